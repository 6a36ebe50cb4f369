// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring buffer producer for the consumer benchmark (tests/bench/ringbuf):
 * each getpgid() of the chosen process emits `batch` fixed-size 64-byte
 * records with bpf_loop, submitted with the same wake-up policy as
 * bpf/http.bpf.c. Triggered from the raw sys_enter tracepoint (kernel 4.17),
 * which needs no tracefs mount (tp/syscalls does); bpf_loop needs 5.17. Reservations that fail (ring full: the consumer is behind)
 * are counted, never retried, so a producer running flat out measures how
 * fast the consumer frees space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

_Static_assert(sizeof(struct sonde_bench_event) == 64, "bench events are 64 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the consumer before load */
} bench_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_bench_config);
} bench_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_BENCH_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} bench_stats SEC(".maps");

/* Next sequence number; one producer thread, so no atomics needed. */
__u64 bench_next_seq = 0;

struct emit_state {
	__u64 seq;
	__u64 produced;
	__u64 failed;
	__u32 tgid;
};

/* bpf/http.bpf.c's policy: no wake-up until the ring is 1/8 full. */
static __always_inline __u64 wakeup_flags(void)
{
	__u64 avail = bpf_ringbuf_query(&bench_events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&bench_events, BPF_RB_RING_SIZE);
	return avail >= size / 8 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static long emit_one(__u64 i, void *ctx)
{
	struct emit_state *s = ctx;
	__u64 seq = s->seq + i;
	struct sonde_bench_event *e = bpf_ringbuf_reserve(&bench_events, sizeof(*e), 0);
	if (!e) {
		s->failed++;
		return 0;
	}
	e->seq = seq;
	e->magic = SONDE_BENCH_MAGIC;
	e->tgid = s->tgid;
	for (int w = 0; w < 6; w++)
		e->words[w] = seq * (w + 1);
	bpf_ringbuf_submit(e, wakeup_flags());
	s->produced++;
	return 0;
}

static __always_inline void add(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&bench_stats, &which);
	if (v)
		*v += n;
}

/* x86-64 syscall number of getpgid (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_GETPGID 121

/* sys_enter(struct pt_regs *regs, long id): every syscall of every process. */
SEC("raw_tp/sys_enter")
int bench_produce(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] != NR_GETPGID)
		return 0;
	__u32 zero = 0;
	struct sonde_bench_config *cfg = bpf_map_lookup_elem(&bench_config, &zero);
	if (!cfg || cfg->batch == 0)
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid != cfg->tgid)
		return 0;
	struct emit_state s = { .seq = bench_next_seq, .tgid = tgid };
	bpf_loop(cfg->batch, emit_one, &s, 0);
	bench_next_seq = s.seq + cfg->batch;
	add(SONDE_BENCH_STAT_TRIGGERS, 1);
	add(SONDE_BENCH_STAT_PRODUCED, s.produced);
	add(SONDE_BENCH_STAT_FAILED, s.failed);
	return 0;
}
