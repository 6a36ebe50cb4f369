// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor of a trap-free HTTP/1 boundary (issue 15, part 3): the least that
 * request start and end taken from syscall tracepoints would do per syscall,
 * and nothing more. tests/bench/boundary.py measures a saturated server with it
 * against untraced and `sonde trace --breakdown off`: if this floor already
 * costs more than the goal allows, the full mode (which must also parse the
 * request head, match the status line and emit a record) can't meet it.
 *
 * Per syscall of any task: the tracepoint's BPF run and, for every task, the
 * syscall slow path that an attached sys_enter/sys_exit tracepoint imposes.
 * Per read/write of the target process: the buffer kept for its exit (task
 * storage); at the exit of one that moved bytes, the goroutine from the
 * thread's TLS (Go on linux/amd64 keeps g at -8(%fs), runtime/go_tls.h and
 * runtime/asm_amd64.s), the buffer's first 16 bytes (a request line's method,
 * a status line's version) and one hash update keyed by goroutine: the
 * connection's state.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid = 0;   /* set by the loader before load */

struct pending {
	__u64 buf;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending);
} pendings SEC(".maps");

struct conn_state {
	__u64 head[2];
	__u64 at_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);                 /* the goroutine (its g) */
	__type(value, struct conn_state);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");                  /* 0: reads/writes that moved bytes, 1: conn updates that failed */

#define NR_READ 0
#define NR_WRITE 1

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter, struct pt_regs *regs, long id)
{
	if (id != NR_READ && id != NR_WRITE)
		return 0;
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	struct pending *p = bpf_task_storage_get(&pendings, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (p)
		p->buf = BPF_CORE_READ(regs, si);   /* read(fd, buf, n) / write(fd, buf, n): buf is the second argument */
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct pending *p = bpf_task_storage_get(&pendings, task, 0, 0);
	if (!p || !p->buf)
		return 0;
	__u64 buf = p->buf;
	p->buf = 0;
	if (ret <= 0)
		return 0;
	__u64 g = 0;
	bpf_probe_read_user(&g, sizeof(g), (void *)(task->thread.fsbase - 8));
	struct conn_state s = { .at_ns = bpf_ktime_get_ns() };
	bpf_probe_read_user(s.head, sizeof(s.head), (void *)buf);
	__u32 k = bpf_map_update_elem(&conns, &g, &s, BPF_ANY) == 0 ? 0 : 1;
	__u64 *c = bpf_map_lookup_elem(&counts, &k);
	if (c)
		__sync_fetch_and_add(c, 1);
	return 0;
}
