// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The producer side of the ring buffer benchmark: calls getpgid() in a loop
 * until SIGTERM. Each call runs bpf/bench.bpf.c's bench_produce (when a
 * consumer has attached it with this process's pid), which emits a batch of
 * records. Pin it to its own CPU (taskset): it runs flat out.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	unsigned long long calls = 0;
	while (!stop) {
		/* The raw syscall: libc may not cache it, but be explicit. */
		syscall(SYS_getpgid, 0);
		calls++;
	}
	printf("{\"calls\":%llu}\n", calls);
	return 0;
}
