/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by bpf/bench.bpf.c and the ring buffer consumer benchmarks
 * (tests/bench/ringbuf/consumer.c, tests/bench/RingBufferBench/BenchEvent.cs).
 * Not part of Sonde's tracer: a producer that exists to be consumed.
 */
#ifndef SONDE_BENCH_H
#define SONDE_BENCH_H

/* Marks a record as the producer's, so a consumer that reads the wrong bytes notices. */
#define SONDE_BENCH_MAGIC 0x53444e4fu /* "ONDS" little-endian */

/* Counters in the `bench_stats` per-CPU array. */
enum sonde_bench_stat {
	SONDE_BENCH_STAT_TRIGGERS = 0, /* syscalls of the producer that ran the loop */
	SONDE_BENCH_STAT_PRODUCED,     /* records reserved and submitted */
	SONDE_BENCH_STAT_FAILED,       /* bpf_ringbuf_reserve failed: the ring was full */
	SONDE_BENCH_STAT_MAX,
};

/* Slot 0 of `bench_config`, written by the consumer before it attaches. */
struct sonde_bench_config {
	__u32 tgid;   /* only this process's getpgid() produces */
	__u32 batch;  /* records per getpgid() call (bpf_loop count) */
};

/*
 * One record: 64 bytes of payload, as a ring buffer record 8 + 64 = 72
 * bytes. seq numbers every attempt, failed ones included, so a consumer can
 * count what it missed.
 */
struct sonde_bench_event {
	__u64 seq;
	__u32 magic;
	__u32 tgid;
	__u64 words[6];  /* seq * (i + 1): something to read and check */
};

#endif
