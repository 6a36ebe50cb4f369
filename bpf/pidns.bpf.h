/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pids as Sonde sees them. BPF's bpf_get_current_pid_tgid() gives ids in the
 * root pid namespace; Sonde may run in another (a container, a systemd in a
 * namespace), where /proc numbers processes differently. User space writes
 * its own pid namespace's nsfs (dev, inode) here, and every pid that crosses
 * to or from user space goes through bpf_get_ns_current_pid_tgid (kernel
 * 5.7+). Keys used only inside BPF (threads, in-flight requests) stay in
 * root-namespace ids, like the task_struct pids of sched tracepoints.
 */
#ifndef SONDE_PIDNS_BPF_H
#define SONDE_PIDNS_BPF_H

struct sonde_pidns {
	__u64 dev;
	__u64 ino;
	__u32 enabled;   /* 0: Sonde runs in the root pid namespace */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_pidns);
} pidns SEC(".maps");

/*
 * The current task's tgid and tid as Sonde sees them; false when the task
 * isn't visible from Sonde's pid namespace.
 */
static __always_inline bool sonde_current_ids(__u32 *tgid, __u32 *tid)
{
	__u32 zero = 0;
	struct sonde_pidns *ns = bpf_map_lookup_elem(&pidns, &zero);
	if (ns && ns->enabled) {
		struct bpf_pidns_info info = {};
		if (bpf_get_ns_current_pid_tgid(ns->dev, ns->ino, &info, sizeof(info)) != 0)
			return false;
		*tgid = info.tgid;
		*tid = info.pid;
		return true;
	}
	__u64 id = bpf_get_current_pid_tgid();
	*tgid = id >> 32;
	*tid = (__u32)id;
	return true;
}

#endif
