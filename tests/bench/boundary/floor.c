// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads floor.bpf.o (see there) for one process: floor PID OBJECT. Prints
 * "ready" once attached, runs until SIGTERM or SIGINT, then prints the
 * syscalls it saw move bytes and the state updates that failed, as JSON.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s PID floor.bpf.o\n", argv[0]);
		return 2;
	}
	unsigned tgid = (unsigned)strtoul(argv[1], NULL, 10);
	struct bpf_object *obj = bpf_object__open_file(argv[2], NULL);
	if (!obj) {
		fprintf(stderr, "floor: cannot open %s\n", argv[2]);
		return 1;
	}
	struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
	/* Its .rodata holds target_tgid alone. */
	if (!rodata || bpf_map__set_initial_value(rodata, &tgid, sizeof(tgid)) != 0) {
		fprintf(stderr, "floor: cannot set the target in .rodata\n");
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "floor: the kernel refused floor.bpf.o\n");
		return 1;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "floor: cannot attach %s\n", bpf_program__name(prog));
			return 1;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	int fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "counts"));
	unsigned long long moved = 0, failed = 0;
	unsigned k = 0;
	bpf_map_lookup_elem(fd, &k, &moved);
	k = 1;
	bpf_map_lookup_elem(fd, &k, &failed);
	printf("{\"moved\": %llu, \"failed\": %llu}\n", moved, failed);
	bpf_object__close(obj);
	return 0;
}
