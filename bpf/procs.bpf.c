// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * exec and exit of processes, so `sonde run` attaches to a matching service
 * within a second of its start and frees its state when it exits, without
 * polling /proc. Events are few (one per exec/exit), each wakes the reader.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "procs.h"
#include "pidns.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} proc_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} proc_drops SEC(".maps");

static __always_inline void emit(__u32 kind, __u32 pid)
{
	struct sonde_proc_event *e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	if (!e) {
		__u32 k = 0;
		__u64 *d = bpf_map_lookup_elem(&proc_drops, &k);
		if (d)
			(*d)++;
		return;
	}
	e->kind = kind;
	e->pid = pid;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sonde_proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid, tid;
	if (sonde_current_ids(&tgid, &tid))
		emit(SONDE_PROC_EXEC, tgid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sonde_proc_exit, struct task_struct *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid, tid;
	/* Thread exits are not process exits: only the group leader counts. */
	if ((__u32)id == (__u32)(id >> 32) && sonde_current_ids(&tgid, &tid))
		emit(SONDE_PROC_EXIT, tgid);
	return 0;
}
