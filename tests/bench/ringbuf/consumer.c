// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The libbpf reference consumer of the ring buffer benchmark: loads
 * bpf/bench.bpf.o, points its producer at PRODUCER_PID, and consumes with
 * ring_buffer__poll() -- the way libbpf's own examples do -- decoding every
 * 64-byte record in its callback (mode `stream`), or lets the producer fill
 * the ring and times ring_buffer__consume() emptying it (mode `drain`).
 * tests/bench/RingBufferBench does the same with Sonde's reader;
 * tests/bench/bench.py runs both against one producer.
 *
 * Prints one JSON object: records consumed in the measured window, its
 * length, this process's CPU time in it, and the producer's counters.
 * Exit status 1 when a record is malformed or the totals don't add up.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "bench.h"

struct consumer {
	uint64_t consumed;   /* records decoded */
	uint64_t next_seq;   /* seq expected next */
	uint64_t gaps;       /* seq numbers skipped (failed reservations) */
	uint64_t bad;        /* malformed or out-of-order records */
	uint64_t checksum;
	uint64_t batches;    /* poll/consume calls that returned records */
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct consumer *c = ctx;
	const struct sonde_bench_event *e = data;
	if (len != sizeof(*e) || e->magic != SONDE_BENCH_MAGIC || e->seq < c->next_seq ||
	    e->words[5] != e->seq * 6) {
		c->bad++;
		return 0;
	}
	c->gaps += e->seq - c->next_seq;
	c->next_seq = e->seq + 1;
	c->checksum += e->words[0] ^ e->tgid;
	c->consumed++;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t stat_sum(int fd, uint32_t which)
{
	int cpus = libbpf_num_possible_cpus();
	uint64_t values[cpus > 0 ? cpus : 1];
	uint64_t sum = 0;
	if (cpus <= 0 || bpf_map_lookup_elem(fd, &which, values) != 0)
		return 0;
	for (int i = 0; i < cpus; i++)
		sum += values[i];
	return sum;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "ringbuf-consumer: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(2);
}

/* Counters at one instant, and between two (or summed over several intervals). */
struct window {
	uint64_t events, batches, produced, failed;
	double seconds, cpu_seconds;
};

static struct window snapshot(const struct consumer *c, int stats_fd)
{
	return (struct window){
		.events = c->consumed,
		.batches = c->batches,
		.produced = stat_sum(stats_fd, SONDE_BENCH_STAT_PRODUCED),
		.failed = stat_sum(stats_fd, SONDE_BENCH_STAT_FAILED),
		.seconds = now_s(),
		.cpu_seconds = cpu_s(),
	};
}

static void add_interval(struct window *sum, struct window a, struct window b)
{
	sum->events += b.events - a.events;
	sum->batches += b.batches - a.batches;
	sum->produced += b.produced - a.produced;
	sum->failed += b.failed - a.failed;
	sum->seconds += b.seconds - a.seconds;
	sum->cpu_seconds += b.cpu_seconds - a.cpu_seconds;
}

/* Steady state: poll as libbpf's examples do; measure from WARMUP_S for MEASURE_S. */
static struct window stream_window(struct ring_buffer *rb, struct consumer *c, int stats_fd,
				   double warmup, double measure)
{
	double start = now_s() + warmup;
	struct window a = { 0 }, sum = { 0 };
	bool measuring = false;
	for (;;) {
		int err = ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR)
			die("ring_buffer__poll", err);
		c->batches += err > 0;
		double t = now_s();
		if (!measuring && t >= start) {
			measuring = true;
			a = snapshot(c, stats_fd);
		}
		if (measuring && t >= a.seconds + measure)
			break;
	}
	add_interval(&sum, a, snapshot(c, stats_fd));
	return sum;
}

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Consumer-bound: let the producer fill the ring for 20 ms, then time how fast
 * ring_buffer__consume() empties it while the producer keeps refilling. Only
 * the drains count: their wall time and this thread's CPU time in them.
 */
static struct window drain_window(struct ring_buffer *rb, struct consumer *c, int stats_fd,
				  double warmup, double measure)
{
	for (double until = now_s() + warmup; now_s() < until;) {
		usleep(20 * 1000);
		ring_buffer__consume(rb);
	}
	struct window sum = { 0 }, a = snapshot(c, stats_fd);
	for (double until = now_s() + measure; now_s() < until;) {
		usleep(20 * 1000);
		uint64_t events = c->consumed, batches = c->batches;
		double w0 = now_s(), c0 = thread_cpu_s();
		int err = ring_buffer__consume(rb);
		double c1 = thread_cpu_s(), w1 = now_s();
		if (err < 0)
			die("ring_buffer__consume", err);
		c->batches += err > 0;
		sum.events += c->consumed - events;
		sum.batches += c->batches - batches;
		sum.seconds += w1 - w0;
		sum.cpu_seconds += c1 - c0;
	}
	struct window b = snapshot(c, stats_fd);
	sum.produced = b.produced - a.produced;
	sum.failed = b.failed - a.failed;
	return sum;
}

int main(int argc, char **argv)
{
	if (argc != 8 || (strcmp(argv[7], "stream") && strcmp(argv[7], "drain"))) {
		fprintf(stderr, "usage: %s BENCH_BPF_O PRODUCER_PID BATCH RING_BYTES WARMUP_S MEASURE_S stream|drain\n", argv[0]);
		return 2;
	}
	bool drain = strcmp(argv[7], "drain") == 0;
	const char *path = argv[1];
	struct sonde_bench_config cfg = { .tgid = (uint32_t)atoi(argv[2]), .batch = (uint32_t)atoi(argv[3]) };
	uint32_t ring_bytes = (uint32_t)strtoul(argv[4], NULL, 0);
	double warmup = atof(argv[5]), measure = atof(argv[6]);

	libbpf_set_print(quiet_print);
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj)
		die("open BPF object", errno);
	struct bpf_map *events = bpf_object__find_map_by_name(obj, "bench_events");
	if (!events)
		die("map bench_events", ENOENT);
	int err = bpf_map__set_max_entries(events, ring_bytes);
	if (err)
		die("set ring size", err);
	if ((err = bpf_object__load(obj)))
		die("load BPF object", err);
	uint32_t zero = 0;
	int config_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "bench_config"));
	int stats_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "bench_stats"));
	if ((err = bpf_map_update_elem(config_fd, &zero, &cfg, 0)))
		die("write config", err);

	struct consumer c = { 0 };
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(events), on_record, &c, NULL);
	if (!rb)
		die("ring_buffer__new", errno);
	struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, "bench_produce"));
	if (!link)
		die("attach bench_produce", errno);

	struct window w = drain ? drain_window(rb, &c, stats_fd, warmup, measure)
				: stream_window(rb, &c, stats_fd, warmup, measure);

	/* Stop producing, take what is left, and check the books. */
	bpf_link__destroy(link);
	usleep(100 * 1000); /* a run already under way on the producer's CPU finishes */
	while ((err = ring_buffer__consume(rb)) > 0)
		;
	uint64_t produced = stat_sum(stats_fd, SONDE_BENCH_STAT_PRODUCED);
	uint64_t failed = stat_sum(stats_fd, SONDE_BENCH_STAT_FAILED);
	bool ok = c.bad == 0 && c.consumed == produced && c.consumed + c.gaps <= produced + failed;

	printf("{\"consumer\":\"%s\",\"events\":%llu,\"batches\":%llu,\"seconds\":%.6f,\"cpu_seconds\":%.6f,"
	       "\"produced\":%llu,\"failed\":%llu,\"total_consumed\":%llu,\"total_produced\":%llu,"
	       "\"total_failed\":%llu,\"bad\":%llu,\"ok\":%s}\n",
	       drain ? "libbpf ring_buffer__consume" : "libbpf ring_buffer__poll",
	       (unsigned long long)w.events, (unsigned long long)w.batches, w.seconds, w.cpu_seconds,
	       (unsigned long long)w.produced, (unsigned long long)w.failed,
	       (unsigned long long)c.consumed, (unsigned long long)produced, (unsigned long long)failed,
	       (unsigned long long)c.bad, ok ? "true" : "false");
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return ok ? 0 : 1;
}
