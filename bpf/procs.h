/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Process lifecycle events for `sonde run`'s discovery (bpf/procs.bpf.c),
 * read by daemon/Discovery/ProcessEvents.cs.
 */
#ifndef SONDE_PROCS_H
#define SONDE_PROCS_H

enum sonde_proc_event_kind {
	SONDE_PROC_EXEC = 1,  /* a process replaced its image (execve) */
	SONDE_PROC_EXIT = 2,  /* a process (its last thread) exited */
};

struct sonde_proc_event {
	__u32 kind;
	__u32 pid;   /* tgid */
};

#endif
