// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Request spans of Go net/http servers, and of grpc-go's calls.
 *
 * start: net/http.serverHandler.ServeHTTP, at the first instruction of its
 *        prologue that the kernel emulates (a jcc), with the entry's registers.
 * routes: at a call the kernel emulates, in the router's ServeHTTP:
 *        gin, echo, chi: the call of sync.(*Pool).Put(c) that returns the
 *          router's context to its pool once the handler is done: c (the data
 *          word of Put's `any` argument, RCX) still holds this request's
 *          route. After Put another goroutine may take and reset c, so the
 *          string headers are read here; their bytes belong to the router's
 *          tree, not to c, so they are still valid when the request ends.
 *          gin: Context.fullPath; echo: context.path (unless it is the
 *          request's own path: no route matched); chi: Context.RoutePatterns,
 *          one per (sub-)router, joined at the end.
 *        gorilla/mux: the call of requestWithRoute(req, route) (route in RBX):
 *          the matched Route's path template, which lives as long as the
 *          router.
 * end:   the first emulated instruction after each call of ServeHTTP (the
 *        caller's next call), or, where that can't be found, every RET of
 *        ServeHTTP. Never a uretprobe: Go moves goroutine stacks and the
 *        return trampoline corrupts them.
 *
 * gRPC (grpc-go, daemon/Tracing/GrpcServer.cs): a call starts at
 *        (*Server).handleStream's prologue jcc (stream in RDI, its full method
 *        copied there); its status is read at the status writer's
 *        ((*http2Server).WriteStatus / writeStatus: stream in RBX, *status.Status
 *        in RCX); it ends, as an HTTP request does, after each call of
 *        handleStream (or at the deferred closure that runs right after it).
 *
 * In-flight requests are keyed by (tgid, g): one goroutine serves one request
 * at a time. ServeHTTP's prologue may run twice for one call (morestack
 * starts the function over): the second start simply overwrites the first.
 *
 * Breakdown (where the time went): each in-flight request accrues time in
 * one category at a time (enum sonde_category); transitions come from Go's
 * scheduler (gopark with its wait reason, execute, ready, stop/start the
 * world) and the kernel's (sched_switch, sched_wakeup, raw_syscalls). The
 * `threads` map says which goroutine each target thread runs, so kernel
 * events cost a map lookup for threads that aren't ours.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "http.h"
#include "go_abi.bpf.h"
#include "pidns.bpf.h"

/* Linux's errno values (include/uapi/asm-generic/errno-base.h); vmlinux.h has no macros. */
#define EEXIST 17
#define E2BIG 7
#define EAGAIN 11
#define EINPROGRESS 115

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct inflight_key {
	__u64 g;
	__u32 tgid;
	__u32 _pad;
};

/* A CPU's two steal clocks (see read_steal_clock). */
struct steal_clock {
	__u64 steal;
	__u64 gap;
};

struct inflight {
	/* What every request has, the breakdown on or off (INFLIGHT_LITE_BYTES). */
	struct sonde_inflight_head head;
	__s64 goid;
	__u64 req;      /* *http.Request */
	__u64 rw;       /* ResponseWriter's data word (a *response for HTTP/1) */
	struct go_string route[SONDE_ROUTE_PARTS]; /* the router's route, in pieces (chi: one per router) */
	__u32 route_flags; /* SONDE_F_ROUTE_TRUNCATED: more pieces than route[] holds */
	__u16 kind;        /* 0: HTTP; SONDE_F_GRPC */
	__u16 grpc_status; /* with SONDE_F_GRPC_STATUS in grpc_flags */
	__u16 grpc_flags;
	__u16 grpc_path_len;
	__u32 tid;      /* as Sonde sees it (its pid namespace) */
	char grpc_path[SONDE_PATH_MAX]; /* the call's full method, copied at its start */
	/* The breakdown's state: in the map's values only when the breakdown's programs are loaded. */
	__u64 cat_ns[SONDE_CAT_MAX];
	__u64 since;     /* when the current category started accruing */
	__u64 stw_snap;  /* the process's stop-the-world total at `since` */
	__u32 state;     /* enum sonde_category accruing now */
	__u32 run_tid;   /* thread the goroutine last ran on */
	__u32 kernel_off;/* off CPU because the kernel switched its thread out */
	__u32 nsyscalls;
	__u64 woken_at;  /* sched_wakeup of its thread while kernel_off (see on_wakeup) */
	struct steal_clock steal_snap; /* steal_cpu's steal clocks when on_cpu last started accruing */
	__u32 steal_cpu; /* the CPU it ran on then, + 1 (0: no snapshot) */
	__u32 _pad4;
	struct sonde_syscall_stat sys[SONDE_MAX_SYSCALLS];
	__u32 npeers;
	__u32 wait_peer; /* peers[] index + 1 of the socket its last EAGAIN/EINPROGRESS was on (0: none) */
	__u32 park_peer; /* peers[] index + 1 that the net_io accruing now waits on (0: none known) */
	__u32 open_call; /* calls[] index + 1 of the round trip in progress (0: none) */
	__u64 ncalls;    /* outgoing calls started, kept or not (64 bits: BPF's fetch-and-add before cpu v3) */
	/* Last, and not cleared at a start (too big to clear at once): only the first npeers and ncalls are read. */
	struct sonde_peer_wait peers[SONDE_MAX_PEERS];
	struct sonde_call calls[SONDE_MAX_CALLS];
};

/* The head of struct inflight that a request has without the breakdown: all the map's values hold then. */
#define INFLIGHT_LITE_BYTES __builtin_offsetof(struct inflight, cat_ns)

/*
 * Set by user space before load (HttpTracer.OpenAndLoad), read-only after: the
 * verifier knows them, so a program drops the code of a mode not loaded.
 * breakdown: 1 when the breakdown's programs are loaded, and the inflight
 * map's values are whole structs; 0: only their first lite_bytes.
 */
const volatile struct {
	__u32 breakdown;
	__u32 lite_bytes;
} sonde_load SEC(".rodata.sonde") = { .breakdown = 1, .lite_bytes = INFLIGHT_LITE_BYTES };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SONDE_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct sonde_go_config);
} configs SEC(".maps");

/* Processes `sonde run` traces, for binaries whose probes cover every process of the file. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);            /* tgid */
	__type(value, __u32);          /* unused */
} tgids SEC(".maps");

/*
 * Requests in flight. A plain hash, not an LRU: an LRU map would evict a live
 * request without a word. Here a start that finds the map full is counted
 * (SONDE_STAT_INFLIGHT_FULL), a start over a request its goroutine never ended
 * is counted (SONDE_STAT_ABANDONED), and what a process leaves in flight when
 * it exits is removed and counted by user space (HttpTracer.ForgetProcess).
 * User space may resize it before load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	/* No BTF types (the kernel wants both or neither): user space shrinks the values to INFLIGHT_LITE_BYTES without the breakdown. */
	__uint(key_size, sizeof(struct inflight_key));
	__uint(value_size, sizeof(struct inflight));
} inflight SEC(".maps");

/*
 * A request's goroutine by its goid, for outgoing calls made on goroutines it
 * started (g.parentGoid, go1.21+): kept only while calls are followed, from
 * the request's start to its end. LRU, as big as inflight (user space sizes
 * both): an entry a process left behind ages out.
 */
struct goid_key {
	__u64 goid;
	__u32 tgid;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct goid_key);
	__type(value, struct inflight_key);
} goids SEC(".maps");

/* Where a new in-flight entry is built: it is too big for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight_scratch SEC(".maps");

/* A target thread: the goroutine it runs (Go's view) and its syscall. */
struct thread {
	__u64 g;
	__u32 tgid;
	__u32 sys_nr;
	__u64 sys_start; /* 0: not in a syscall */
	__u32 sys_fd;    /* the syscall's fd, for those that can leave a goroutine waiting on a socket */
	__u32 req;       /* 1: g had an in-flight request when it got this thread (or started one on it); 0: none, not looked up */
	/* Its last switch-in (see sonde_sched_switch): when, and its CPU time and CPU's steal clock then. */
	__u64 in_ns;
	__u64 in_exec;
	struct steal_clock in_steal;
};

/*
 * Threads of traced processes, removed at their exit (sonde_task_exit). A plain
 * hash: a thread that finds it full is counted (SONDE_STAT_STATE_FULL), not
 * made to push out another's state.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);            /* tid */
	__type(value, struct thread);
} threads SEC(".maps");

/* Stop-the-world windows per process, for the gc category. */
struct stw {
	__u64 total_ns;
	__u64 start;     /* 0: the world is running */
};

/* Removed when the process's leader exits (sonde_task_exit): a later process given its pid starts clean. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);            /* tgid */
	__type(value, struct stw);
} stws SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Pins the event type into BTF so user space can check its layout. */
struct sonde_http_event _sonde_http_event_btf = {};
struct sonde_http_breakdown _sonde_http_breakdown_btf = {};
struct sonde_go_config _sonde_go_config_btf = {};
struct sonde_peer_wait _sonde_peer_wait_btf = {};
struct sonde_call _sonde_call_btf = {};
/* And the enums user space mirrors (daemon/Tracing/HttpTracer.cs Stat, PeerKind). */
enum sonde_stat _sonde_stat_btf = SONDE_STAT_MAX;
enum sonde_peer_kind _sonde_peer_kind_btf = SONDE_PEER_NONE;

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);
	if (v)
		(*v)++;
}

static __always_inline __u64 stw_total(__u32 tgid, __u64 now)
{
	struct stw *w = bpf_map_lookup_elem(&stws, &tgid);
	if (!w)
		return 0;
	return w->total_ns + (w->start ? now - w->start : 0);
}

/*
 * What the scheduler left out of the CPU time it charged on this CPU because
 * the hypervisor stole it, as two clocks read together: any interval's steal
 * is the smaller of their advances (stolen_between).
 *
 * - steal: rq->prev_steal_time_rq. With CONFIG_PARAVIRT_TIME_ACCOUNTING,
 *   update_rq_clock_task (kernel/sched/core.c) reads the hypervisor's steal
 *   clock (KVM's per-CPU kvm_steal_time, Xen's and Hyper-V's equivalents) and
 *   takes what it grew since prev_steal_time_rq out of the clock that tasks'
 *   CPU time is charged on (rq->clock_task), but never more than rq->clock
 *   moved since its last update; prev_steal_time_rq then moves to the whole
 *   steal clock. A lump the hypervisor reports late (larger than the clock's
 *   step) is so never taken out of anyone's CPU time: measured here under
 *   heavy steal, a thread's stint of 954 us on a CPU saw prev_steal_time_rq
 *   grow 673 us while the kernel charged it 849 us.
 * - gap: rq->clock - rq->clock_task, what the kernel did take out: the
 *   steal, and on kernels with CONFIG_IRQ_TIME_ACCOUNTING interrupts' time too
 *   (which the steal clock's advance bounds out). Two fields, read without
 *   the run queue's lock while another CPU may update them (a remote wake-up
 *   does): update_rq_clock writes clock, then clock_task, so reading
 *   clock_task first can only see the gap too large, never too small, and
 *   the smaller of two such reads is taken. prev_steal_time_rq is one field.
 *
 * So a thread's CPU clock (CLOCK_THREAD_CPUTIME_ID, se.sum_exec_runtime) plus
 * this steal is its time on CPU by the run queue's clock. Both are current at
 * every context switch (__schedule updates the clock first) and at most a
 * tick old elsewhere. The current task's run queue is this CPU's. The
 * kvm_steal_time record itself can't be read: per-CPU variables need kallsyms
 * entries (CONFIG_KALLSYMS_ALL) that kernels usually don't have. A kernel
 * without the fields leaves both 0, and stolen with them.
 */
static __always_inline struct steal_clock read_steal_clock(void)
{
	struct steal_clock c = {};
	if (!bpf_core_field_exists(struct rq, prev_steal_time_rq) || !bpf_core_field_exists(struct sched_entity, cfs_rq))
		return c;
	/*
	 * Loads through BTF pointers (Linux 5.11+): plain loads the kernel guards
	 * against faults, not helper calls. As seven bpf_probe_read_kernel calls, these
	 * reads were a quarter of a request start's BPF time with the breakdown on.
	 * READ_ONCE: the two reads of each clock must stay two loads, in this order.
	 */
	struct task_struct *task = bpf_get_current_task_btf();
	struct rq *rq = task->se.cfs_rq->rq;
	if (!rq)
		return c;
	c.steal = rq->prev_steal_time_rq;
	__u64 t1 = *(volatile __u64 *)&rq->clock_task;
	__u64 c1 = *(volatile __u64 *)&rq->clock;
	__u64 t2 = *(volatile __u64 *)&rq->clock_task;
	__u64 c2 = *(volatile __u64 *)&rq->clock;
	__u64 g1 = c1 - t1, g2 = c2 - t2;
	c.gap = g1 < g2 ? g1 : g2;
	return c;
}

/*
 * The steal between two reads of one CPU's steal clocks: the smaller of their
 * advances. A gap that went back (both of a read's halves torn) says nothing:
 * the steal clock's advance, then.
 */
static __always_inline __u64 stolen_between(const struct steal_clock *from, const struct steal_clock *to)
{
	if (to->steal <= from->steal)
		return 0;
	__u64 s = to->steal - from->steal;
	if (to->gap < from->gap)
		return s;
	__u64 g = to->gap - from->gap;
	return s < g ? s : g;
}

/*
 * Closes the current category's interval at `now` and starts `next`. Time the
 * goroutine spent off CPU while its process's world was stopped goes to gc;
 * what the hypervisor stole from its CPU while it was on it goes to stolen.
 * Every on_cpu interval opens and closes on the CPU its thread runs on (the
 * callers run on that thread, or switch it in or out), so the steal clock read
 * at both ends is that CPU's.
 */
static __always_inline void account_at(struct inflight *f, __u32 tgid, __u64 now, __u32 next, const struct steal_clock *steal)
{
	__u32 cpu = bpf_get_smp_processor_id() + 1;
	if (now > f->since) {
		__u64 delta = now - f->since;
		__u64 stw = stw_total(tgid, now);
		if (f->state != SONDE_CAT_ON_CPU && stw > f->stw_snap) {
			__u64 gc = stw - f->stw_snap;
			if (gc > delta)
				gc = delta;
			f->cat_ns[SONDE_CAT_GC] += gc;
			delta -= gc;
		}
		__u64 stolen = f->state == SONDE_CAT_ON_CPU && f->steal_cpu == cpu ? stolen_between(&f->steal_snap, steal) : 0;
		if (stolen) {
			if (stolen > delta) {
				/*
				 * The steal clock moves in lumps, when the run queue's clock is
				 * updated (a switch, a wake-up, a tick): a lump larger than this
				 * interval was stolen before it, while the request ran on this CPU
				 * and was counted on_cpu. It moves there, within what on_cpu holds.
				 */
				__u64 back = stolen - delta;
				if (back > f->cat_ns[SONDE_CAT_ON_CPU])
					back = f->cat_ns[SONDE_CAT_ON_CPU];
				f->cat_ns[SONDE_CAT_ON_CPU] -= back;
				f->cat_ns[SONDE_CAT_STOLEN] += back;
				stolen = delta;
			}
			f->cat_ns[SONDE_CAT_STOLEN] += stolen;
			delta -= stolen;
		}
		__u32 st = f->state;
		if (st < SONDE_CAT_MAX)
			f->cat_ns[st] += delta;
		/* A park in the netpoller: its time goes to the socket's peer too. */
		__u32 pi = f->park_peer - 1;
		if (st == SONDE_CAT_NET_IO && pi < SONDE_MAX_PEERS)
			f->peers[pi].ns += delta;
		f->since = now;
		f->stw_snap = stw;
	}
	if (next == SONDE_CAT_ON_CPU) {
		f->steal_snap = *steal;
		f->steal_cpu = cpu;
	}
	if (next != SONDE_CAT_NET_IO)
		f->park_peer = 0;
	f->state = next;
}

/* account_at with this CPU's steal clock, read only if an on_cpu interval ends or starts. */
static __always_inline void account(struct inflight *f, __u32 tgid, __u64 now, __u32 next)
{
	struct steal_clock steal = {};
	if (f->state == SONDE_CAT_ON_CPU || next == SONDE_CAT_ON_CPU)
		steal = read_steal_clock();
	account_at(f, tgid, now, next, &steal);
}

static __always_inline void set_thread(struct thread *t, __u32 tid, __u32 tgid, __u64 g, __u32 req)
{
	if (!t)
		t = bpf_map_lookup_elem(&threads, &tid);
	if (t) {
		t->g = g;
		t->tgid = tgid;
		t->req = req;
		return;
	}
	struct thread n = { .g = g, .tgid = tgid, .req = req };
	if (bpf_map_update_elem(&threads, &tid, &n, BPF_NOEXIST) == -E2BIG)
		count(SONDE_STAT_STATE_FULL);
}

/* Whether outgoing calls on goroutines a request started are followed for this binary. */
static __always_inline bool follows_children(const struct sonde_go_config *cfg)
{
	return cfg->breakdown && cfg->resp_status_code && cfg->g_parent_goid;
}

static __always_inline int request_start(struct pt_regs *ctx, __u16 kind)
{
	count(SONDE_STAT_START_HITS);
	__u32 cfg_idx = (__u32)bpf_get_attach_cookie(ctx);
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &cfg_idx);
	if (!cfg || !cfg->valid) {
		count(SONDE_STAT_START_NO_CONFIG);
		return 0;
	}
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight_key key = { .g = GO_G(ctx), .tgid = id >> 32 };
	__u32 ns_tgid, ns_tid;
	if (!sonde_current_ids(&ns_tgid, &ns_tid))
		return 0;
	if (cfg->filter_tgids && !bpf_map_lookup_elem(&tgids, &ns_tgid))
		return 0;
	__u32 zero = 0;
	struct inflight *val = bpf_map_lookup_elem(&inflight_scratch, &zero);
	if (!val)
		return 0;
	__builtin_memset(val, 0, INFLIGHT_LITE_BYTES);
	if (sonde_load.breakdown)
		__builtin_memset((char *)val + INFLIGHT_LITE_BYTES, 0, __builtin_offsetof(struct inflight, peers) - INFLIGHT_LITE_BYTES);
	val->head.start_ns = bpf_ktime_get_ns();
	val->req = GO_ARG4(ctx);
	val->rw = GO_ARG3(ctx);
	val->tid = ns_tid;
	val->head.ns_tgid = ns_tgid;
	val->head.config = cfg_idx;
	val->kind = kind;
	if (kind == SONDE_F_GRPC) {
		/* The stream's method is set before the stream is handed to handleStream. */
		int trunc = 0;
		val->grpc_path_len = go_read_string(val->grpc_path, SONDE_PATH_MAX, val->req + cfg->grpc_stream_method, &trunc);
		if (trunc)
			val->grpc_flags |= SONDE_F_PATH_TRUNCATED;
	}
	bpf_probe_read_user(&val->goid, sizeof(val->goid), (void *)(key.g + cfg->g_goid));
	if (sonde_load.breakdown && cfg->breakdown) {
		val->since = val->head.start_ns;
		val->state = SONDE_CAT_ON_CPU;
		val->run_tid = (__u32)id;
		val->steal_snap = read_steal_clock();
		val->steal_cpu = bpf_get_smp_processor_id() + 1;
		val->stw_snap = stw_total(key.tgid, val->head.start_ns);
	}
	/* One update in the common case; the previous request of this goroutine, if it never ended, is replaced and counted. */
	long err = bpf_map_update_elem(&inflight, &key, val, BPF_NOEXIST);
	if (err == -EEXIST) {
		count(SONDE_STAT_ABANDONED);
		err = bpf_map_update_elem(&inflight, &key, val, BPF_EXIST);
	}
	if (err) {
		count(SONDE_STAT_INFLIGHT_FULL);
		return 0;
	}
	if (cfg->breakdown)
		set_thread(0, (__u32)id, key.tgid, key.g, 1);
	if (follows_children(cfg)) {
		struct goid_key gk = { .goid = val->goid, .tgid = key.tgid };
		bpf_map_update_elem(&goids, &gk, &key, BPF_ANY);
	}
	return 0;
}

/* net/http.serverHandler.ServeHTTP(sh, rw ResponseWriter, req *Request): rw in RBX/RCX, req in RDI. */
SEC("uprobe")
int sonde_http_start(struct pt_regs *ctx)
{
	return request_start(ctx, 0);
}

/*
 * grpc-go's (*Server).handleStream(s, t ServerTransport, stream, ...): t in
 * RBX/RCX, stream in RDI, on a goroutine of the call's own (or a server worker's,
 * one call at a time).
 */
SEC("uprobe")
int sonde_grpc_start(struct pt_regs *ctx)
{
	return request_start(ctx, SONDE_F_GRPC);
}

static __always_inline __u64 go_arg(struct pt_regs *ctx, __u32 n)
{
	/* Loaded one by one: the verifier refuses a ctx read at a computed offset. */
	__u64 a1 = GO_ARG1(ctx), a2 = GO_ARG2(ctx), a3 = GO_ARG3(ctx), a4 = GO_ARG4(ctx);
	asm volatile("" : "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4));
	return n == 1 ? a1 : n == 2 ? a2 : n == 3 ? a3 : n == 4 ? a4 : 0;
}

/*
 * grpc-go's WriteStatus(stream, st *status.Status), which sends a call's final
 * status (its trailers), on the call's goroutine: the code is st.s.Code. The
 * stream must be the call's, as handleStream got it.
 */
SEC("uprobe")
int sonde_grpc_status(struct pt_regs *ctx)
{
	count(SONDE_STAT_GRPC_STATUS_HITS);
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight_key key = { .g = GO_G(ctx), .tgid = id >> 32 };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &key);
	if (!f || f->kind != SONDE_F_GRPC)
		return 0;
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &f->head.config);
	if (!cfg || cfg->grpc_status_arg == 0)
		return 0;
	if (cfg->grpc_status_stream_arg && go_arg(ctx, cfg->grpc_status_stream_arg) != f->req)
		return 0;
	__u64 st = go_arg(ctx, cfg->grpc_status_arg);
	if (!st)
		return 0;
	/* A nil proto is OK (status.Status.Code). */
	__u64 proto = go_read_ptr(st + cfg->grpc_status_proto);
	__s32 code = 0;
	if (proto && bpf_probe_read_user(&code, sizeof(code), (void *)(proto + cfg->grpc_proto_code)) != 0)
		return 0;
	if (code < 0 || code > 0xffff)
		return 0;
	f->grpc_status = (__u16)code;
	f->grpc_flags |= SONDE_F_GRPC_STATUS;
	return 0;
}

/* The in-flight request of the goroutine at a router probe, and its binary's config. */
static __always_inline struct inflight *route_request(struct pt_regs *ctx, struct sonde_go_config **cfg)
{
	count(SONDE_STAT_ROUTE_HITS);
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight_key key = { .g = GO_G(ctx), .tgid = id >> 32 };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &key);
	if (!f)
		return 0;
	*cfg = bpf_map_lookup_elem(&configs, &f->head.config);
	return *cfg ? f : 0;
}

/* sync.(*Pool).Put(p, x any): p in RAX, x's type word in RBX, data word (the context) in RCX. */
SEC("uprobe")
int sonde_gin_route(struct pt_regs *ctx)
{
	struct sonde_go_config *cfg;
	struct inflight *f = route_request(ctx, &cfg);
	if (!f || cfg->gin_ctx_full_path == 0)
		return 0;
	bpf_probe_read_user(&f->route[0], sizeof(f->route[0]), (void *)(GO_ARG3(ctx) + cfg->gin_ctx_full_path));
	return 0;
}

SEC("uprobe")
int sonde_echo_route(struct pt_regs *ctx)
{
	struct sonde_go_config *cfg;
	struct inflight *f = route_request(ctx, &cfg);
	if (!f || cfg->echo_ctx_path == 0)
		return 0;
	struct go_string path = {};
	bpf_probe_read_user(&path, sizeof(path), (void *)(GO_ARG3(ctx) + cfg->echo_ctx_path));
	/*
	 * When no route matches, echo's Router.Find leaves the request's own path in
	 * context.path (the same string: URL.RawPath, or URL.Path). That is no route.
	 */
	__u64 url = go_read_ptr(f->req + cfg->req_url);
	if (url && (path.ptr == go_read_ptr(url + cfg->url_path) || path.ptr == go_read_ptr(url + cfg->url_raw_path)))
		return 0;
	f->route[0] = path;
	return 0;
}

SEC("uprobe")
int sonde_chi_route(struct pt_regs *ctx)
{
	struct sonde_go_config *cfg;
	struct inflight *f = route_request(ctx, &cfg);
	if (!f || cfg->chi_ctx_patterns == 0)
		return 0;
	struct { __u64 ptr; __s64 len; __s64 cap; } patterns = {};
	bpf_probe_read_user(&patterns, sizeof(patterns), (void *)(GO_ARG3(ctx) + cfg->chi_ctx_patterns));
	if (patterns.ptr == 0 || patterns.len <= 0)
		return 0;
	__u32 bytes = (patterns.len < SONDE_ROUTE_PARTS ? (__u32)patterns.len : SONDE_ROUTE_PARTS) * sizeof(struct go_string);
	if (bytes == 0 || bytes > sizeof(f->route))
		return 0;
	bpf_probe_read_user(f->route, bytes, (void *)patterns.ptr);
	f->route_flags = patterns.len > SONDE_ROUTE_PARTS ? SONDE_F_ROUTE_TRUNCATED : 0;
	return 0;
}

/* github.com/gorilla/mux.requestWithRoute(r *http.Request, route *Route): route in RBX. */
SEC("uprobe")
int sonde_mux_route(struct pt_regs *ctx)
{
	struct sonde_go_config *cfg;
	struct inflight *f = route_request(ctx, &cfg);
	if (!f || cfg->mux_route_regexp_path == 0)
		return 0;
	__u64 re = go_read_ptr(GO_ARG2(ctx) + cfg->mux_route_regexp_path);
	if (re)
		bpf_probe_read_user(&f->route[0], sizeof(f->route[0]), (void *)(re + cfg->mux_regexp_template));
	return 0;
}

/*
 * Appends the Go string (ptr, len) to the route at `off`; returns the new length.
 * chi's RoutePattern() joins the patterns of each router on the way (a
 * sub-router's mount pattern ends in a wildcard: "/api/v1/" then '*'), then
 * replaces each slash-star-slash with one slash (context.go, replaceWildcards,
 * at every v5 tag). So: a piece that starts with '/' after one that ends with
 * slash-star drops that slash-star.
 */
_Static_assert(SONDE_ROUTE_MAX == 128, "route_append masks with 127 and 255");

static __always_inline __u32 route_append(char *route, __u32 off, struct go_string *s, int *truncated)
{
	if (s->len <= 0 || s->ptr == 0)
		return off;
	if (off >= 2 && off <= SONDE_ROUTE_MAX) {
		__u64 star = off - 1, slash = off - 2;
		asm volatile("%0 &= 127" : "+r"(star));
		asm volatile("%0 &= 127" : "+r"(slash));
		char first = 0;
		if (route[star] == '*' && route[slash] == '/' &&
		    bpf_probe_read_user(&first, 1, (void *)s->ptr) == 0 && first == '/')
			off -= 2;
	}
	if (off >= SONDE_ROUTE_MAX) {
		*truncated = 1;
		return off;
	}
	__u32 room = SONDE_ROUTE_MAX - off;
	__u32 n = s->len < room ? (__u32)s->len : room;
	if (s->len > room)
		*truncated = 1;
	/*
	 * Bounds the verifier can see at the read itself (the compiler must not
	 * fold the masks away): at < ROUTE_MAX, 1 <= len <= ROUTE_MAX; the record
	 * being built (record_scratch) has room for route + 2 * ROUTE_MAX, and
	 * at + n <= ROUTE_MAX anyway.
	 */
	__u64 at = off, len = n;
	asm volatile("%0 &= 127" : "+r"(at));
	asm volatile("%0 &= 255" : "+r"(len));
	if (len == 0 || len > SONDE_ROUTE_MAX)
		return off;
	if (bpf_probe_read_user(route + at, len, (void *)s->ptr) != 0)
		return off;
	return off + n;
}

/*
 * Batched wake-ups: waking the reader for every event costs the producer an
 * irq_work and the reader two thread wake-ups per handful of events. Submit
 * without a wake-up unless the ring is 1/8 full; the reader polls on a short
 * timer (RingBufferReader.PollInterval) for the rest.
 */
static __always_inline __u64 wakeup_flags(void)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	return avail >= size / 8 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Where a record with a breakdown is built: too big for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_http_record);
} record_scratch SEC(".maps");
_Static_assert(sizeof(struct sonde_http_record) >= __builtin_offsetof(struct sonde_http_event, route) + 2 * SONDE_ROUTE_MAX,
	       "route_append may write up to 2 * SONDE_ROUTE_MAX past the route's start");

/* url.URL's Path to RawPath, read at once when this close (bytes): adjacent up to Go 1.26, 48 bytes apart in 1.27. */
#define SONDE_URL_SPAN 128

/*
 * The header of a request's URL path: RawPath (the original encoding) when
 * set, else Path. One read of url.URL from Path to RawPath into buf (room for
 * SONDE_URL_SPAN bytes) when they are that close, else one read each.
 * 0: the URL could not be read.
 */
static __always_inline int read_url_path(struct go_string *path, char *buf, __u64 url, struct sonde_go_config *cfg)
{
	struct go_string both[2] = {};
	__u64 gap = cfg->url_raw_path - cfg->url_path;
	if (cfg->url_raw_path > cfg->url_path && gap + sizeof(struct go_string) <= SONDE_URL_SPAN) {
		__u64 ulen = gap + sizeof(struct go_string);
		asm volatile("%0 &= 127" : "+r"(ulen));
		asm volatile("%0 &= 127" : "+r"(gap));
		if (ulen < 2 * sizeof(struct go_string) || gap + sizeof(struct go_string) > ulen ||
		    bpf_probe_read_user(buf, ulen, (void *)(url + cfg->url_path)) != 0)
			return 0;
		__builtin_memcpy(&both[0], buf, sizeof(both[0]));
		__builtin_memcpy(&both[1], buf + gap, sizeof(both[1]));
	} else if (bpf_probe_read_user(&both[1], sizeof(both[1]), (void *)(url + cfg->url_raw_path)) != 0 ||
		   (both[1].len <= 0 && bpf_probe_read_user(&both[0], sizeof(both[0]), (void *)(url + cfg->url_path)) != 0)) {
		return 0;
	}
	*path = both[1].len > 0 ? both[1] : both[0];
	return 1;
}

/*
 * Method and path in one read, when the path's bytes lie shortly after the
 * method's: net/http's HTTP/1 server takes both out of the request line it
 * read (Method and, unescaped or not, Path or RawPath are substrings of one
 * string), so "GET /users/42" is one range of memory. Reads the range into
 * buf and copies both from there; 0 (nothing written) when they are not that
 * close (HTTP/2, an absolute URI with a long host), and the caller copies each.
 * Whatever the allocations, the bytes at the path's address are the path.
 */
#define SONDE_LINE_GAP 32 /* the path at most this far after the method's start */
static __always_inline int read_method_path(struct sonde_http_event *e, char *buf, const struct go_string *path,
					    const struct go_string *method, int *trunc)
{
	if (method->ptr == 0 || method->len <= 0 || method->len > SONDE_METHOD_MAX ||
	    path->len <= 0 || path->ptr < method->ptr)
		return 0;
	__u64 d = path->ptr - method->ptr;
	if (d < (__u64)method->len || d >= SONDE_LINE_GAP)
		return 0;
	__u64 n = (__u64)path->len;
	int t = 0;
	if (n > SONDE_PATH_MAX) {
		n = SONDE_PATH_MAX;
		t = 1;
	}
	__u64 len = d + n;
	asm volatile("%0 &= 255" : "+r"(len));
	if (len == 0 || len > SONDE_LINE_GAP + SONDE_PATH_MAX)
		return 0;
	if (bpf_probe_read_user(buf, len, (void *)method->ptr) != 0)
		return 0;
	__builtin_memcpy(e->method, buf, SONDE_METHOD_MAX);
	e->method_len = (__u16)method->len;
	asm volatile("%0 &= 31" : "+r"(d));
#pragma unroll
	for (int i = 0; i < SONDE_PATH_MAX / 8; i++)
		*(__u64 *)(e->path + 8 * i) = *(__u64 *)(buf + d + 8 * i);
	e->path_len = (__u16)n;
	*trunc = t;
	return 1;
}

/* response.req to response.status, read at once when they are this close (bytes). */
#define SONDE_STATUS_SPAN 256
/* http.Request from Method to Pattern, read at once when this close (bytes), into the room after the status's. */
#define SONDE_REQUEST_SPAN 256
_Static_assert(sizeof(struct sonde_http_breakdown) >= SONDE_STATUS_SPAN + SONDE_REQUEST_SPAN, "fill_event reads response and request fields into the breakdown's room");
_Static_assert(sizeof(struct sonde_http_breakdown) >= SONDE_LINE_GAP + SONDE_PATH_MAX + SONDE_URL_SPAN, "read_url_path and read_method_path read into the breakdown's room");

/*
 * Fills what every record has, from the request's in-flight entry and its
 * binary's offsets. `tail` is the record's breakdown room, free until the
 * event is filled (a place for reads too big for the stack).
 */
static __always_inline void fill_event(struct sonde_http_event *e, char *tail, struct inflight *f, struct sonde_go_config *cfg, __u64 now, __u16 flags)
{
	e->start_ns = f->head.start_ns;
	e->duration_ns = now - f->head.start_ns;
	e->goid = f->goid;
	e->pid = f->head.ns_tgid;
	e->tid = f->tid;
	e->config = (__u16)f->head.config;
	e->flags = flags;
	e->status = 0;
	e->route_len = 0;
	e->grpc_status = 0;
	e->_pad = 0;

	if (f->kind == SONDE_F_GRPC) {
		/*
		 * A gRPC call: POST to its full method, which is its route too; HTTP
		 * status 200 (grpc-go answers every call's headers with it).
		 */
		__builtin_memcpy(e->method, "POST", 5);
		e->method_len = 4;
		__u32 n = f->grpc_path_len;
		n &= SONDE_PATH_MAX * 2 - 1;
		if (n > SONDE_PATH_MAX)
			n = SONDE_PATH_MAX;
		__builtin_memcpy(e->path, f->grpc_path, SONDE_PATH_MAX);
		__builtin_memcpy(e->route, f->grpc_path, SONDE_ROUTE_MAX);
		e->path_len = n;
		e->route_len = n;
		e->status = 200;
		e->grpc_status = f->grpc_status;
		e->flags |= SONDE_F_GRPC | (f->grpc_flags & (SONDE_F_GRPC_STATUS | SONDE_F_PATH_TRUNCATED));
		if (f->grpc_flags & SONDE_F_PATH_TRUNCATED)
			e->flags |= SONDE_F_ROUTE_TRUNCATED;
		return;
	}

	/*
	 * Status: when the ResponseWriter is net/http's *response, which we
	 * recognise by response.req pointing back at this request; or, for a
	 * request net/http's HTTP/2 server made (ProtoMajor 2), its
	 * *responseWriter (the interface's data word), whose state holds the
	 * status. 0: the handler wrote nothing; net/http sends 200.
	 */
	__u64 status = 0;
	int known = 0;
	if (f->rw && cfg->resp_status > cfg->resp_req && cfg->resp_status - cfg->resp_req + 8 <= SONDE_STATUS_SPAN) {
		/* One read from response.req to response.status (128 or 136 bytes, Go 1.19 to 1.27), into the record's unused tail. */
		__u64 len = cfg->resp_status - cfg->resp_req + 8, at = cfg->resp_status - cfg->resp_req;
		asm volatile("%0 &= 511" : "+r"(len));
		asm volatile("%0 &= 255" : "+r"(at));
		if (len >= 16 && len <= SONDE_STATUS_SPAN && at + 8 <= len &&
		    bpf_probe_read_user(tail, len, (void *)(f->rw + cfg->resp_req)) == 0 && *(__u64 *)tail == f->req) {
			status = *(__u64 *)(tail + at);
			known = 1;
		}
	} else if (f->rw && go_read_ptr(f->rw + cfg->resp_req) == f->req) {
		status = go_read_ptr(f->rw + cfg->resp_status);
		known = 1;
	}
	if (!known && f->rw && cfg->h2_state_status && go_read_ptr(f->req + cfg->req_proto_major) == 2) {
		__u64 rws = go_read_ptr(f->rw + cfg->h2_writer_state);
		if (rws) {
			status = go_read_ptr(rws + cfg->h2_state_status);
			known = 1;
		}
	}
	if (known && status <= 999)
		e->status = status == 0 ? 200 : (__u16)status;
	else
		e->flags |= SONDE_F_STATUS_UNKNOWN;

	int trunc = 0;
	__u64 url = 0;
	struct go_string pattern = {}, method = {};
	int pattern_read = 0, method_read = 0;
	__u64 pat_at = cfg->req_pattern - cfg->req_method;
	if (cfg->req_pattern > cfg->req_method && pat_at + sizeof(struct go_string) <= SONDE_REQUEST_SPAN &&
	    cfg->req_url == cfg->req_method + sizeof(struct go_string)) {
		/*
		 * One read of http.Request from Method (then URL) to Pattern (go1.23+: 200 to
		 * 240 bytes on), into the tail past the status's span: a read of user memory
		 * is what a probe pays most for (~50 ns each on a VM).
		 */
		char *span = tail + SONDE_STATUS_SPAN;
		__u64 len = pat_at + sizeof(struct go_string);
		asm volatile("%0 &= 511" : "+r"(len));
		asm volatile("%0 &= 255" : "+r"(pat_at));
		if (len >= 32 && len <= SONDE_REQUEST_SPAN && pat_at + sizeof(struct go_string) <= len &&
		    bpf_probe_read_user(span, len, (void *)(f->req + cfg->req_method)) == 0) {
			__builtin_memcpy(&method, span, sizeof(method));
			__builtin_memcpy(&url, span + sizeof(struct go_string), sizeof(url));
			__builtin_memcpy(&pattern, span + pat_at, sizeof(pattern));
			pattern_read = 1;
		}
	}
	if (!pattern_read && cfg->req_url == cfg->req_method + sizeof(struct go_string)) {
		/* Adjacent (http.Request: Method, then URL, in every Go version): one read for both. */
		struct { struct go_string method; __u64 url; } head = {};
		bpf_probe_read_user(&head, sizeof(head), (void *)(f->req + cfg->req_method));
		method = head.method;
		url = head.url;
	} else if (!pattern_read) {
		e->method_len = go_read_string(e->method, SONDE_METHOD_MAX, f->req + cfg->req_method, &trunc);
		url = go_read_ptr(f->req + cfg->req_url);
		method_read = 1;
	}
	trunc = 0;
	/* The status is out of `tail` by now, the request's span too: room for the request line, then url.URL's span. */
	struct go_string path = {};
	int have_path = url && read_url_path(&path, tail + SONDE_LINE_GAP + SONDE_PATH_MAX, url, cfg);
	if (method_read || !have_path || !read_method_path(e, tail, &path, &method, &trunc)) {
		if (!method_read)
			e->method_len = go_copy_string(e->method, SONDE_METHOD_MAX, method.ptr, method.len, &trunc);
		trunc = 0;
		e->path_len = have_path ? go_copy_string(e->path, SONDE_PATH_MAX, path.ptr, path.len, &trunc) : 0;
	}
	if (trunc)
		e->flags |= SONDE_F_PATH_TRUNCATED;

	trunc = 0;
	__u32 route_len = 0;
	/*
	 * Every router's route starts with '/'; a read through offsets that are not
	 * the binary's (a router version Sonde assumed) mostly doesn't: no route then.
	 */
	char first = 0;
	if (f->route[0].len > 0 && bpf_probe_read_user(&first, 1, (void *)f->route[0].ptr) == 0 && first == '/') {
#pragma unroll
		for (int i = 0; i < SONDE_ROUTE_PARTS; i++)
			route_len = route_append(e->route, route_len, &f->route[i], &trunc);
		e->flags |= f->route_flags;
	}
	e->route_len = route_len;
	/*
	 * No router's route: the ServeMux pattern that matched (Request.Pattern, set by
	 * (*ServeMux).ServeHTTP on the request it was handed; "GET /users/{id}", whose
	 * method and host user space strips). The request is still the server's here.
	 */
	if (e->route_len == 0 && pattern.len > 0)
		e->route_len = go_copy_string(e->route, SONDE_ROUTE_MAX, pattern.ptr, pattern.len, &trunc);
	else if (e->route_len == 0 && cfg->req_pattern && !pattern_read)
		e->route_len = go_read_string(e->route, SONDE_ROUTE_MAX, f->req + cfg->req_pattern, &trunc);
	if (trunc)
		e->flags |= SONDE_F_ROUTE_TRUNCATED;
}

static __always_inline int request_end(struct pt_regs *ctx, __u16 end_flags)
{
	count(SONDE_STAT_END_HITS);
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight_key key = { .g = GO_G(ctx), .tgid = id >> 32 };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &key);
	if (!f) {
		count(SONDE_STAT_END_UNMATCHED);
		return 0;
	}
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &f->head.config);
	if (!cfg)
		goto out;

	/*
	 * Built aside (route_append needs room past the route that the verifier can
	 * see), then out with bpf_ringbuf_output: the event alone with the breakdown
	 * off; with it on, the breakdown and only the syscalls that occurred.
	 */
	__u32 zero = 0;
	struct sonde_http_record *r = bpf_map_lookup_elem(&record_scratch, &zero);
	if (!r)
		goto out;
	__u64 size = sizeof(r->e);
	if (sonde_load.breakdown && cfg->breakdown) {
		account(f, key.tgid, now, SONDE_CAT_ON_CPU);
		fill_event(&r->e, (char *)&r->b, f, cfg, now, end_flags | SONDE_F_BREAKDOWN | (cfg->resp_status_code ? SONDE_F_CALLS : 0));
		__builtin_memcpy(r->b.breakdown_ns, f->cat_ns, sizeof(r->b.breakdown_ns));
		__u32 n = f->nsyscalls;
		if (n > SONDE_MAX_SYSCALLS)
			n = SONDE_MAX_SYSCALLS;
		r->b.syscall_count = n;
		__builtin_memcpy(r->b.syscalls, f->sys, sizeof(r->b.syscalls));
		size += __builtin_offsetof(struct sonde_http_breakdown, syscalls) + (__u64)n * sizeof(struct sonde_syscall_stat);
		/* The peers right after the syscalls that occurred. */
		__u32 m = f->npeers;
		if (m > SONDE_MAX_PEERS)
			m = SONDE_MAX_PEERS;
		r->b.peer_count = 0;
		if (m > 0) {
			__u64 at = (__u64)n * sizeof(struct sonde_syscall_stat), len = (__u64)m * sizeof(struct sonde_peer_wait);
			asm volatile("%0 &= 511" : "+r"(at));
			asm volatile("%0 &= 1023" : "+r"(len));
			if (at <= SONDE_MAX_SYSCALLS * sizeof(struct sonde_syscall_stat) && len > 0 &&
			    len <= sizeof(r->b.peers) &&
			    bpf_probe_read_kernel((char *)r->b.syscalls + at, len, f->peers) == 0) {
				r->b.peer_count = m;
				size += len;
			}
		}
		/* The calls right after the peers. */
		__u32 k = f->ncalls > SONDE_MAX_CALLS ? SONDE_MAX_CALLS : (__u32)f->ncalls;
		r->b.call_count = 0;
		r->b._pad = 0;
		if (k > 0) {
			__u64 at = (__u64)n * sizeof(struct sonde_syscall_stat) + (__u64)r->b.peer_count * sizeof(struct sonde_peer_wait);
			__u64 len = (__u64)k * sizeof(struct sonde_call);
			asm volatile("%0 &= 1023" : "+r"(at));
			asm volatile("%0 &= 1023" : "+r"(len));
			if (at <= SONDE_MAX_SYSCALLS * sizeof(struct sonde_syscall_stat) + sizeof(r->b.peers) && len > 0 &&
			    len <= sizeof(r->b.calls) &&
			    bpf_probe_read_kernel((char *)r->b.syscalls + at, len, f->calls) == 0) {
				r->b.call_count = k;
				size += len;
			}
		}
	} else {
		fill_event(&r->e, (char *)&r->b, f, cfg, now, end_flags);
	}
	if (size > sizeof(*r))
		goto out;
	if (bpf_ringbuf_output(&events, r, size, wakeup_flags()) != 0)
		count(SONDE_STAT_DROPS);
	else
		count(SONDE_STAT_EVENTS);
out:
	if (cfg && follows_children(cfg)) {
		struct goid_key gk = { .goid = f->goid, .tgid = key.tgid };
		bpf_map_delete_elem(&goids, &gk);
	}
	bpf_map_delete_elem(&inflight, &key);
	return 0;
}

SEC("uprobe")
int sonde_http_end(struct pt_regs *ctx)
{
	return request_end(ctx, 0);
}

SEC("uprobe")
int sonde_http_end_ret(struct pt_regs *ctx)
{
	return request_end(ctx, SONDE_F_END_AT_RET);
}

/*
 * ---- outgoing HTTP calls: net/http's client, on a request's goroutine ----
 *
 * start: (*Transport).roundTrip(t, req) at its prologue jcc (req in RBX): the
 *        method and the URL's scheme, host and path. Every request a Client
 *        sends, redirects included, goes through it once; its retries on a
 *        fresh connection stay inside it, so they belong to the same call.
 * dial:  (*Transport).queueForDial(t, w) at its prologue jcc: getConn found no
 *        idle connection and a new one is dialed for the call.
 * conn:  the first emulated instruction after roundTrip's call of getConn
 *        (the jcc on its error, RAX/RBX still its results): the call has a
 *        connection, or failed to get one (err's itab in RBX).
 * end:   the same after roundTrip's call of (*persistConn).roundTrip: the
 *        response's head was read (resp in RAX) or the attempt failed; for
 *        HTTP/2, after net/http's calls of its client stream's round trip,
 *        whose entry (h2_conn) says it has its connection (ProbePlan.cs).
 * A call ends at the next start (a failed attempt may be retried).
 */
/*
 * A call on a goroutine the request started (errgroup's, a fan-out's), whose
 * g.parentGoid is the request's goroutine's goid: kept from the call's start
 * on that goroutine until its next start there, or until it ages out (LRU).
 * Goroutines further down (a child's child) are not followed.
 */
struct child_call {
	struct inflight_key req; /* the request whose call it is */
	__u64 call_start;        /* its start_ns, to know the same call */
	__u32 call;              /* calls[] index */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct inflight_key); /* the calling goroutine */
	__type(value, struct child_call);
} child_calls SEC(".maps");

/* Which request and which of its calls a client probe's goroutine is in. */
struct call_ref {
	struct inflight_key req;
	__u32 call; /* calls[] index */
	__u32 child;/* 1: the call runs on a goroutine the request started */
};

/*
 * The request of the client probe's goroutine and, in *c, its call in
 * progress (0: none): the goroutine's own request, or the one that started
 * it and whose call it made last.
 */
static __always_inline struct inflight *client_request(struct pt_regs *ctx, struct sonde_call **c, struct call_ref *ref)
{
	count(SONDE_STAT_CLIENT_HITS);
	__u64 id = bpf_get_current_pid_tgid();
	ref->req.g = GO_G(ctx);
	ref->req.tgid = id >> 32;
	ref->req._pad = 0;
	ref->child = 0;
	*c = 0;
	struct inflight *f = bpf_map_lookup_elem(&inflight, &ref->req);
	if (f) {
		__u32 open = f->open_call;
		if (open > 0 && open <= SONDE_MAX_CALLS) {
			ref->call = open - 1;
			*c = &f->calls[ref->call & (SONDE_MAX_CALLS - 1)];
		}
		return f;
	}
	struct inflight_key k = { .g = ref->req.g, .tgid = ref->req.tgid };
	struct child_call *cc = bpf_map_lookup_elem(&child_calls, &k);
	if (!cc)
		return 0;
	ref->req = cc->req;
	ref->call = cc->call;
	ref->child = 1;
	f = bpf_map_lookup_elem(&inflight, &ref->req);
	if (!f || ref->call >= SONDE_MAX_CALLS)
		return 0;
	struct sonde_call *x = &f->calls[ref->call & (SONDE_MAX_CALLS - 1)];
	if (x->start_ns != cc->call_start)
		return 0;
	*c = x;
	return f;
}

/* The in-flight request whose goroutine started the probe's goroutine (g.parentGoid), or 0. */
static __always_inline struct inflight *parent_request(struct pt_regs *ctx, struct call_ref *ref)
{
	__u32 cfg_idx = (__u32)bpf_get_attach_cookie(ctx);
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &cfg_idx);
	if (!cfg || !cfg->valid || !follows_children(cfg))
		return 0;
	struct goid_key gk = { .tgid = ref->req.tgid };
	if (bpf_probe_read_user(&gk.goid, sizeof(gk.goid), (void *)(ref->req.g + cfg->g_parent_goid)) != 0 || gk.goid == 0)
		return 0;
	struct inflight_key *parent = bpf_map_lookup_elem(&goids, &gk);
	if (!parent)
		return 0;
	ref->req = *parent;
	ref->child = 1;
	return bpf_map_lookup_elem(&inflight, &ref->req);
}

SEC("uprobe")
int sonde_client_start(struct pt_regs *ctx)
{
	struct sonde_call *c;
	struct call_ref ref;
	__u64 g = GO_G(ctx);
	struct inflight *f = client_request(ctx, &c, &ref);
	if (f && !ref.child)
		f->open_call = 0;
	else {
		/* A goroutine of no request: the request that started it, if any. A new call ends its last one. */
		ref.req.g = g;
		ref.req.tgid = bpf_get_current_pid_tgid() >> 32;
		if (ref.child) {
			struct inflight_key k = { .g = g, .tgid = ref.req.tgid };
			bpf_map_delete_elem(&child_calls, &k);
		}
		f = parent_request(ctx, &ref);
	}
	if (!f)
		return 0;
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &f->head.config);
	if (!cfg || cfg->resp_status_code == 0)
		return 0;
	/* Atomic: the request's goroutine and those it started may start calls at once. */
	__u64 n = __sync_fetch_and_add(&f->ncalls, 1);
	if (n >= SONDE_MAX_CALLS) {
		count(SONDE_STAT_CALLS_LOST);
		return 0;
	}
	c = &f->calls[n & (SONDE_MAX_CALLS - 1)];
	__builtin_memset(c, 0, __builtin_offsetof(struct sonde_call, method));
	c->start_ns = bpf_ktime_get_ns();
	__u64 req = GO_ARG2(ctx), url = 0;
	int trunc = 0;
	struct go_string method = {};
	bpf_probe_read_user(&method, sizeof(method), (void *)(req + cfg->req_method));
	bpf_probe_read_user(&url, sizeof(url), (void *)(req + cfg->req_url));
	c->method_len = go_copy_string(c->method, SONDE_METHOD_MAX, method.ptr, method.len, &trunc);
	if (url) {
		struct go_string scheme = {};
		char https[5] = {};
		if (bpf_probe_read_user(&scheme, sizeof(scheme), (void *)(url + cfg->url_scheme)) == 0 && scheme.len == 5 &&
		    bpf_probe_read_user(https, sizeof(https), (void *)scheme.ptr) == 0 &&
		    https[0] == 'h' && https[1] == 't' && https[2] == 't' && https[3] == 'p' && https[4] == 's')
			c->flags |= SONDE_CALL_F_TLS;
		trunc = 0;
		c->host_len = go_read_string(c->host, SONDE_CALL_HOST_MAX, url + cfg->url_host, &trunc);
		if (trunc)
			c->flags |= SONDE_CALL_F_HOST_TRUNCATED;
		trunc = 0;
		c->path_len = go_read_string(c->path, SONDE_CALL_PATH_MAX, url + cfg->url_path, &trunc);
		if (trunc)
			c->flags |= SONDE_CALL_F_PATH_TRUNCATED;
	}
	if (ref.child) {
		struct inflight_key k = { .g = g, .tgid = ref.req.tgid };
		struct child_call cc = { .req = ref.req, .call_start = c->start_ns, .call = n };
		bpf_map_update_elem(&child_calls, &k, &cc, BPF_ANY);
	} else {
		f->open_call = n + 1;
	}
	return 0;
}

/*
 * A dial runs on a goroutine of its own (dialConnFor), for the wantConn w
 * getConn made: queueForDial(t, w) on the request's goroutine ties w to the
 * call, dialConnFor(t, w) ties the dial's goroutine to it, and the dial's
 * steps (ProbePlan.cs) time its phases there. LRU maps: an entry whose dial
 * never ran or never ended (a process that exited) ages out; a dial that ends
 * after its request is dropped and counted (SONDE_STAT_DIALS_UNMATCHED).
 */
struct dial_key {
	__u64 ptr;  /* the wantConn, or the dial's goroutine */
	__u32 tgid;
	__u32 _pad;
};

struct dial {
	struct inflight_key req; /* the request whose call it is */
	__u64 call_start;        /* its start_ns, to know the same call */
	__u32 call;              /* calls[] index */
	__u32 tls;               /* 1 once the TLS handshake began */
	__u64 at;                /* when the dial began */
	__u64 resolved;          /* when the host was resolved */
	__u64 handshake;         /* when the TLS handshake began */
	__u64 handshaken;        /* when it was over (addTLS returned) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dial_key);
	__type(value, struct dial);
} dials SEC(".maps");

SEC("uprobe")
int sonde_client_dial(struct pt_regs *ctx)
{
	struct sonde_call *c;
	struct call_ref ref;
	client_request(ctx, &c, &ref);
	if (!c)
		return 0;
	c->flags |= SONDE_CALL_F_NEW_CONN;
	struct dial_key w = { .ptr = GO_ARG2(ctx), .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct dial d = { .req = ref.req, .call_start = c->start_ns, .call = ref.call };
	bpf_map_update_elem(&dials, &w, &d, BPF_ANY);
	return 0;
}

/* The dial's goroutine's entry, or 0. */
static __always_inline struct dial *dial_of(struct pt_regs *ctx)
{
	count(SONDE_STAT_CLIENT_HITS);
	struct dial_key k = { .ptr = GO_G(ctx), .tgid = bpf_get_current_pid_tgid() >> 32 };
	return bpf_map_lookup_elem(&dials, &k);
}

/* (*Transport).dialConnFor(t, w) on the dial's goroutine: w in RBX. */
SEC("uprobe")
int sonde_dial_start(struct pt_regs *ctx)
{
	count(SONDE_STAT_CLIENT_HITS);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct dial_key w = { .ptr = GO_ARG2(ctx), .tgid = tgid };
	struct dial *d = bpf_map_lookup_elem(&dials, &w);
	if (!d)
		return 0;
	struct dial copy = *d;
	bpf_map_delete_elem(&dials, &w);
	copy.at = bpf_ktime_get_ns();
	struct dial_key g = { .ptr = GO_G(ctx), .tgid = tgid };
	bpf_map_update_elem(&dials, &g, &copy, BPF_ANY);
	return 0;
}

/* After net.(*Dialer).DialContext's call of resolveAddrList: the host is resolved. */
SEC("uprobe")
int sonde_dial_resolved(struct pt_regs *ctx)
{
	struct dial *d = dial_of(ctx);
	if (d && d->resolved == 0)
		d->resolved = bpf_ktime_get_ns();
	return 0;
}

/* (*persistConn).addTLS's entry: connected, the handshake begins. */
SEC("uprobe")
int sonde_dial_tls(struct pt_regs *ctx)
{
	struct dial *d = dial_of(ctx);
	if (d && !d->tls) {
		d->handshake = bpf_ktime_get_ns();
		d->tls = 1;
	}
	return 0;
}

/* After dialConn's call of addTLS: the handshake is over (an HTTP/2 connection's setup follows). */
SEC("uprobe")
int sonde_dial_tls_done(struct pt_regs *ctx)
{
	struct dial *d = dial_of(ctx);
	if (d && d->tls && d->handshaken == 0)
		d->handshaken = bpf_ktime_get_ns();
	return 0;
}

/* After dialConnFor's call of dialConn: the dial is over; its phases go to the call, if its request is still in flight. */
SEC("uprobe")
int sonde_dial_end(struct pt_regs *ctx)
{
	struct dial *d = dial_of(ctx);
	if (!d)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	struct dial_key g = { .ptr = GO_G(ctx), .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &d->req);
	struct sonde_call *c = f && d->call < SONDE_MAX_CALLS ? &f->calls[d->call & (SONDE_MAX_CALLS - 1)] : 0;
	if (!c || c->start_ns != d->call_start || d->resolved == 0 || d->resolved < d->at) {
		count(SONDE_STAT_DIALS_UNMATCHED);
		goto out;
	}
	__u64 connected = d->tls && d->handshake >= d->resolved ? d->handshake : now;
	__u64 handshaken = d->tls && d->handshaken >= connected ? d->handshaken : now;
	c->dns_ns = d->resolved - d->at;
	c->connect_ns = connected - d->resolved;
	c->tls_ns = handshaken - connected;
	c->flags |= SONDE_CALL_F_DIAL;
out:
	bpf_map_delete_elem(&dials, &g);
	return 0;
}

/* An HTTP/2 stream's round trip starts: the call has its connection (unless getConn said so already). */
SEC("uprobe")
int sonde_client_h2_conn(struct pt_regs *ctx)
{
	struct sonde_call *c;
	struct call_ref ref;
	client_request(ctx, &c, &ref);
	if (c && !(c->flags & SONDE_CALL_F_CONN)) {
		c->conn_ns = bpf_ktime_get_ns() - c->start_ns;
		c->flags |= SONDE_CALL_F_CONN;
	}
	return 0;
}

/* A failed attempt: done with an error, unless a retry in the same round trip gets further. */
static __always_inline void call_failed(struct sonde_call *c, __u64 now)
{
	c->head_ns = now - c->start_ns;
	c->status = 0;
	c->flags |= SONDE_CALL_F_DONE | SONDE_CALL_F_ERROR;
}

SEC("uprobe")
int sonde_client_conn(struct pt_regs *ctx)
{
	struct sonde_call *c;
	struct call_ref ref;
	client_request(ctx, &c, &ref);
	if (!c)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (GO_ARG2(ctx) != 0) {
		call_failed(c, now);
		return 0;
	}
	c->conn_ns = now - c->start_ns;
	c->flags |= SONDE_CALL_F_CONN;
	return 0;
}

SEC("uprobe")
int sonde_client_end(struct pt_regs *ctx)
{
	struct sonde_call *c;
	struct call_ref ref;
	struct inflight *f = client_request(ctx, &c, &ref);
	if (!c)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (GO_ARG2(ctx) != 0) {
		call_failed(c, now);
		return 0;
	}
	/* A status it can't read (or not an HTTP one) stays 0: unknown. */
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &f->head.config);
	__u64 status = 0, resp = GO_ARG1(ctx);
	if (!cfg || bpf_probe_read_user(&status, sizeof(status), (void *)(resp + cfg->resp_status_code)) != 0 || status > 999)
		status = 0;
	/*
	 * The body whose Close ends the call for its caller (sonde_client_body): where
	 * net/http.Response keeps it, and where go1.27's HTTP/2 client's ClientResponse
	 * does (the end probes after its round trip see that struct; its StatusCode is
	 * where Response has it). One of them is the body's.
	 */
	__u64 body = 0, alt = 0;
	if (cfg && cfg->resp_body && bpf_probe_read_user(&body, sizeof(body), (void *)(resp + cfg->resp_body + 8)) != 0)
		body = 0;
	if (cfg && cfg->h2_resp_body && bpf_probe_read_user(&alt, sizeof(alt), (void *)(resp + cfg->h2_resp_body + 8)) != 0)
		alt = 0;
	c->body = body;
	c->body_alt = alt;
	c->head_ns = now - c->start_ns;
	c->status = (__u16)status;
	c->flags = (c->flags & ~SONDE_CALL_F_ERROR) | SONDE_CALL_F_DONE;
	return 0;
}

/*
 * The entry of a response body's Close, receiver in RAX: net/http's
 * (*bodyEOFSignal).Close for HTTP/1, its HTTP/2 client's transportResponseBody
 * Close. The caller is done with the call whose response has that body: the
 * goroutine's call in progress, if its body is this one (a body closed after
 * the goroutine's next call started is not timed).
 */
SEC("uprobe")
int sonde_client_body(struct pt_regs *ctx)
{
	struct sonde_call *c;
	struct call_ref ref;
	client_request(ctx, &c, &ref);
	__u64 b = GO_ARG1(ctx);
	if (c && b && (c->body == b || c->body_alt == b) && !(c->flags & SONDE_CALL_F_BODY)) {
		c->body_ns = bpf_ktime_get_ns() - c->start_ns;
		c->flags |= SONDE_CALL_F_BODY;
	}
	return 0;
}

/* ---- breakdown: Go's scheduler ---- */

/* runtime.gopark(unlockf, lock, reason waitReason, traceEv, traceskip): the goroutine parks itself. */
SEC("uprobe")
int sonde_go_park(struct pt_regs *ctx)
{
	count(SONDE_STAT_RUNTIME_HITS);
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight_key key = { .g = GO_G(ctx), .tgid = id >> 32 };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &key);
	if (!f)
		return 0;
	count(SONDE_STAT_RUNTIME_REQUEST_HITS);
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &f->head.config);
	__u32 reason = (__u32)(GO_ARG3(ctx) & 0xff);
	__u32 cat = SONDE_CAT_OTHER;
	if (cfg && reason < SONDE_WAIT_REASONS)
		cat = cfg->wait_category[reason];
	if (cat >= SONDE_CAT_MAX)
		cat = SONDE_CAT_OTHER;
	f->kernel_off = 0;
	account(f, key.tgid, bpf_ktime_get_ns(), cat);
	/*
	 * Go parks a goroutine in the netpoller (netpollblock: waitReasonIOWait,
	 * Go 1.19 to 1.27) right after its read, write or connect on a non-blocking
	 * socket returned EAGAIN or EINPROGRESS (internal/poll, net): the peer of
	 * that socket is what it waits on.
	 */
	if (cat == SONDE_CAT_NET_IO) {
		__u32 wi = f->wait_peer - 1;
		if (wi < SONDE_MAX_PEERS) {
			f->peers[wi].count++;
			f->park_peer = wi + 1;
		}
	}
	f->wait_peer = 0;
	/*
	 * The thread leaves this goroutine for the scheduler (which may poll the
	 * network, sleep on a futex...): none of that belongs to the request.
	 */
	__u32 tid = (__u32)id;
	struct thread *t = bpf_map_lookup_elem(&threads, &tid);
	if (t && t->g == key.g)
		t->g = 0;
	return 0;
}

/*
 * runtime.execute(gp, inheritTime), on the scheduling thread: gp runs on this
 * thread from now on, and whatever ran here before stopped running. If that
 * goroutine didn't park, it was preempted or yielded: runnable.
 */
SEC("uprobe")
int sonde_go_execute(struct pt_regs *ctx)
{
	count(SONDE_STAT_RUNTIME_HITS);
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	__u64 gp = GO_ARG1(ctx);
	__u64 now = bpf_ktime_get_ns();
	struct thread *t = bpf_map_lookup_elem(&threads, &tid);
	int moved = 0;
	if (t && t->g && t->req && t->g != gp) {
		struct inflight_key old = { .g = t->g, .tgid = tgid };
		struct inflight *f = bpf_map_lookup_elem(&inflight, &old);
		if (f && f->run_tid == tid && f->state == SONDE_CAT_ON_CPU) {
			account(f, tgid, now, SONDE_CAT_RUNNABLE);
			moved = 1;
		}
	}
	struct inflight_key key = { .g = gp, .tgid = tgid };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &key);
	set_thread(t, tid, tgid, gp, f != 0);
	if (f || moved)
		count(SONDE_STAT_RUNTIME_REQUEST_HITS);
	if (f) {
		f->kernel_off = 0;
		f->woken_at = 0;
		f->run_tid = tid;
		account(f, tgid, now, SONDE_CAT_ON_CPU);
	}
	return 0;
}

/* runtime.ready(gp, traceskip, next): another goroutine made gp runnable. */
SEC("uprobe")
int sonde_go_ready(struct pt_regs *ctx)
{
	count(SONDE_STAT_RUNTIME_HITS);
	struct inflight_key key = { .g = GO_ARG1(ctx), .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &key);
	if (f)
		count(SONDE_STAT_RUNTIME_REQUEST_HITS);
	if (f && f->state != SONDE_CAT_ON_CPU && f->state != SONDE_CAT_RUNNABLE) {
		f->kernel_off = 0;
		account(f, key.tgid, bpf_ktime_get_ns(), SONDE_CAT_RUNNABLE);
	}
	return 0;
}

/* runtime.stopTheWorldWithSema: the world stops from here... */
SEC("uprobe")
int sonde_go_stw_start(struct pt_regs *ctx)
{
	count(SONDE_STAT_RUNTIME_HITS);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	struct stw *w = bpf_map_lookup_elem(&stws, &tgid);
	if (w) {
		if (!w->start)
			w->start = now;
		return 0;
	}
	struct stw n = { .start = now };
	if (bpf_map_update_elem(&stws, &tgid, &n, BPF_NOEXIST) == -E2BIG)
		count(SONDE_STAT_STATE_FULL);
	return 0;
}

/* ...until runtime.startTheWorldWithSema. */
SEC("uprobe")
int sonde_go_stw_end(struct pt_regs *ctx)
{
	count(SONDE_STAT_RUNTIME_HITS);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct stw *w = bpf_map_lookup_elem(&stws, &tgid);
	if (w && w->start) {
		w->total_ns += bpf_ktime_get_ns() - w->start;
		w->start = 0;
	}
	return 0;
}

/* ---- breakdown: the kernel's scheduler and syscalls ---- */

static __always_inline struct inflight *request_on_thread(__u32 tid, struct thread **tp)
{
	struct thread *t = bpf_map_lookup_elem(&threads, &tid);
	*tp = t;
	if (!t || !t->g || !t->req)
		return 0;
	struct inflight_key key = { .g = t->g, .tgid = t->tgid };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &key);
	if (!f || f->run_tid != tid)
		return 0;
	return f;
}

#define TASK_RUNNING 0

/*
 * futex(2) is x86-64 syscall 202 (arch/x86/entry/syscalls/syscall_64.tbl).
 * Go code makes no futex calls of its own: sync.Mutex, channels and timers
 * park goroutines. The runtime's futexsleep (runtime/lock_futex.go) puts an M
 * to sleep while it has no P: after a syscall whose P sysmon took away
 * (exitsyscall's slow path), or when a goroutine locked to its thread was
 * preempted (stoplockedm). The goroutine is then waiting to run again, which
 * is scheduling delay: runnable, and not one of the request's syscalls.
 */
#define SONDE_NR_FUTEX 202

static __always_inline bool runtime_sleep(const struct thread *t)
{
	return t->sys_start && t->sys_nr == SONDE_NR_FUTEX;
}

/*
 * Syscalls after which Go's netpoller parks the goroutine when they return
 * EAGAIN (internal/poll.FD's Read, Write, ReadFrom, WriteTo, ReadMsg, WriteMsg,
 * Writev) or EINPROGRESS (net's connect): x86-64 numbers
 * (arch/x86/entry/syscalls/syscall_64.tbl). Their fd is the first argument.
 */
static __always_inline bool socket_io(long nr)
{
	switch (nr) {
	case 0:   /* read */
	case 1:   /* write */
	case 19:  /* readv */
	case 20:  /* writev */
	case 42:  /* connect */
	case 44:  /* sendto */
	case 45:  /* recvfrom */
	case 46:  /* sendmsg */
	case 47:  /* recvmsg */
		return true;
	}
	return false;
}

/* Linux's values (include/linux/socket.h, include/uapi/linux/stat.h, include/linux/net.h). */
#define SONDE_AF_UNIX  1
#define SONDE_AF_INET  2
#define SONDE_AF_INET6 10
#define SONDE_S_IFMT   00170000
#define SONDE_S_IFSOCK 0140000
_Static_assert(SONDE_PEER_ADDR_MAX < 64, "peer_of_fd bounds a path's length with a mask of 63");
#define SONDE_SOCK_DGRAM 2

/*
 * The remote end of the current task's socket `fd`, from the kernel's own
 * structures (task->files->fdt->fd[fd]->private_data is the struct socket of a
 * socket's file). 0 if fd is not a socket of a family Sonde names.
 *
 * A connection the process accepted is its client: an accepted TCP socket is
 * a copy of its listener (sk_clone_lock, net/core/sock.c), listen()'s backlog
 * included, where a socket that connected never had one. On a Unix socket, an
 * accepted one carries its listener's address while its peer (the client) is
 * unbound.
 */
static __always_inline int peer_of_fd(__u32 fd, struct sonde_peer *p)
{
	/*
	 * Loads through BTF pointers (the current task's, in a tp_btf program, Linux
	 * 5.11+) are plain loads the kernel guards against faults, not helper calls.
	 * From the fd array on (a pointer to pointers), the pointers are plain
	 * numbers to the verifier, read with helpers: turning them back into BTF
	 * pointers (bpf_rdonly_cast) needs Linux 6.2, and Debian 12's is 6.1.
	 */
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *file = 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) != 0 || !file)
		return 0;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & SONDE_S_IFMT) != SONDE_S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (BPF_CORE_READ(sk, sk_type) == SONDE_SOCK_DGRAM)
		p->flags |= SONDE_PEER_F_UDP;
	if (family == SONDE_AF_INET || family == SONDE_AF_INET6) {
		if (BPF_CORE_READ(sk, sk_max_ack_backlog) > 0) {
			p->kind = SONDE_PEER_CLIENT;
			return 1;
		}
		p->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (family == SONDE_AF_INET) {
			__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
			__builtin_memcpy(p->addr, &a, 4);
			p->addr_len = 4;
			p->kind = SONDE_PEER_IPV4;
			return 1;
		}
		BPF_CORE_READ_INTO(p->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		/* An IPv4 peer of a dual-stack socket (::ffff:a.b.c.d): an IPv4 address. */
		__u32 w0, w1, w2;
		__builtin_memcpy(&w0, p->addr, 4);
		__builtin_memcpy(&w1, p->addr + 4, 4);
		__builtin_memcpy(&w2, p->addr + 8, 4);
		if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
			__builtin_memcpy(p->addr, p->addr + 12, 4);
			__builtin_memset(p->addr + 4, 0, 12);
			p->addr_len = 4;
			p->kind = SONDE_PEER_IPV4;
			return 1;
		}
		p->addr_len = 16;
		p->kind = SONDE_PEER_IPV6;
		return 1;
	}
	if (family == SONDE_AF_UNIX) {
		struct unix_sock *u = (struct unix_sock *)sk;
		struct sock *peer = BPF_CORE_READ(u, peer);
		struct unix_address *addr = peer ? BPF_CORE_READ((struct unix_sock *)peer, addr) : 0;
		p->kind = SONDE_PEER_UNIX;
		if (!addr) {
			if (peer && BPF_CORE_READ(u, addr))
				p->kind = SONDE_PEER_CLIENT;
			return 1;
		}
		/* addr->len counts sun_family (2 bytes) and the path (with its 0 for a path name). */
		int len = BPF_CORE_READ(addr, len) - 2;
		if (len <= 0)
			return 1;
		if (len > SONDE_PEER_ADDR_MAX) {
			len = SONDE_PEER_ADDR_MAX;
			p->flags |= SONDE_PEER_F_TRUNCATED;
		}
		__u32 rd = len;
		asm volatile("%0 &= 63" : "+r"(rd));
		if (rd == 0 || rd > SONDE_PEER_ADDR_MAX || bpf_probe_read_kernel(p->addr, rd, &addr->name[0].sun_path) != 0)
			return 1;
		/* A path name ends at its 0; an abstract one (leading 0) is all its bytes. */
		__u32 n = len;
		if (p->addr[0] != 0) {
			for (int i = 0; i < SONDE_PEER_ADDR_MAX; i++)
				if (i < n && p->addr[i] == 0) {
					n = i;
					break;
				}
		}
		p->addr_len = n;
		return 1;
	}
	return 0;
}

/*
 * A syscall of the request's goroutine on socket fd returned EAGAIN or
 * EINPROGRESS: the netpoller parks it next (sonde_go_park), waiting on the
 * socket's peer. The peer takes one of the request's SONDE_MAX_PEERS slots.
 */
_Static_assert(sizeof(struct sonde_peer) == 48, "note_wait compares peers as 6 words");

static __always_inline void note_wait(struct inflight *f, __u32 fd)
{
	f->wait_peer = 0;
	struct sonde_peer p = {};
	if (!peer_of_fd(fd, &p))
		return;
	__u32 n = f->npeers;
	for (int i = 0; i < SONDE_MAX_PEERS; i++) {
		if (i >= n)
			break;
		const __u64 *q = (const __u64 *)&f->peers[i].peer, *w = (const __u64 *)&p;
		if (q[0] == w[0] && q[1] == w[1] && q[2] == w[2] && q[3] == w[3] && q[4] == w[4] && q[5] == w[5]) {
			f->wait_peer = i + 1;
			return;
		}
	}
	if (n >= SONDE_MAX_PEERS) {
		count(SONDE_STAT_PEERS_LOST);
		return;
	}
	__u32 at = n & (SONDE_MAX_PEERS - 1);
	f->peers[at].peer = p;
	f->peers[at].count = 0;
	f->peers[at].ns = 0;
	f->npeers = n + 1;
	f->wait_peer = at + 1;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sonde_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	/*
	 * This CPU's steal clock, the same for both threads: it moves only when the
	 * run queue's clock is updated, which __schedule did before this tracepoint.
	 * Read once, and only for a switch of a traced thread (most are not).
	 */
	struct steal_clock steal = {};
	bool have_steal = false;
	struct thread *t;
	__u32 prev_tid = prev->pid;
	struct inflight *f = request_on_thread(prev_tid, &t);
	if (f && f->state == SONDE_CAT_ON_CPU) {
		/* Preempted (still runnable) or sleeping: in a syscall, or elsewhere. */
		steal = read_steal_clock();
		have_steal = true;
		long state = prev->__state;
		__u32 cat = (preempt || state == TASK_RUNNING || runtime_sleep(t)) ? SONDE_CAT_RUNNABLE
			  : (t->sys_start ? SONDE_CAT_SYSCALL : SONDE_CAT_OTHER);
		/*
		 * What of the thread's time on this CPU since it switched in the kernel
		 * did not charge to it (se.sum_exec_runtime, its CPU clock, is current
		 * here: the scheduler charged it before this tracepoint). On a VM a
		 * context switch costs a few microseconds that land on no one's CPU
		 * clock between the two switches' tracepoints (6 us per pair measured
		 * here, with threads waking every 20 us as Go's sysmon does); a thread
		 * switched in and out a thousand times in a request would show them
		 * as on_cpu. They are the CPU doing the scheduler's work, not the
		 * thread's: runnable, for the request's part of the stint.
		 */
		if (t->in_ns && t->in_ns < now) {
			__u64 stint = now - t->in_ns;
			__u64 charged = prev->se.sum_exec_runtime - t->in_exec + stolen_between(&t->in_steal, &steal);
			if (charged < stint) {
				__u64 from = f->since > t->in_ns ? f->since : t->in_ns;
				__u64 part = now - from;
				__u64 unc = stint - charged;
				if (part < stint)
					unc = unc * part / stint;
				if (unc > part)
					unc = part;
				account_at(f, t->tgid, now - unc, SONDE_CAT_RUNNABLE, &steal);
			}
		}
		f->kernel_off = 1;
		account_at(f, t->tgid, now, cat, &steal);
	}
	__u32 next_tid = next->pid;
	f = request_on_thread(next_tid, &t);
	if (t) {
		if (!have_steal)
			steal = read_steal_clock();
		t->in_ns = now;
		t->in_exec = next->se.sum_exec_runtime;
		t->in_steal = steal;
	}
	if (f && f->kernel_off) {
		/* Woken while off CPU: from the wake-up until now it waited for a CPU. */
		__u64 w = f->woken_at;
		if (w > f->since && w < now && f->state != SONDE_CAT_RUNNABLE)
			account_at(f, t->tgid, w, SONDE_CAT_RUNNABLE, &steal);
		f->kernel_off = 0;
		f->woken_at = 0;
		account_at(f, t->tgid, now, SONDE_CAT_ON_CPU, &steal);
	}
	return 0;
}

/*
 * A sleeping thread was woken: it waits for a CPU from now on. This runs on
 * the waker's CPU while the woken thread may already be switching in on
 * another, so it only records the time; the switch-in does the accounting
 * (a stale time is older than `since` and ignored).
 */
static __always_inline int on_wakeup(struct task_struct *p)
{
	struct thread *t;
	__u32 tid = p->pid;
	struct inflight *f = request_on_thread(tid, &t);
	if (f && f->kernel_off)
		f->woken_at = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sonde_sched_wakeup, struct task_struct *p)
{
	return on_wakeup(p);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sonde_sys_enter, struct pt_regs *regs, long id)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct thread *t = bpf_map_lookup_elem(&threads, &tid);
	if (!t)
		return 0;
	t->sys_nr = (__u32)id;
	t->sys_start = bpf_ktime_get_ns();
	if (socket_io(id))
		t->sys_fd = (__u32)regs->di; /* a BTF pointer: a plain load, no helper call */
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sonde_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct thread *t;
	struct inflight *f = request_on_thread(tid, &t);
	if (!t || !t->sys_start)
		return 0;
	__u64 ns = bpf_ktime_get_ns() - t->sys_start;
	__u32 nr = t->sys_nr;
	t->sys_start = 0;
	if (!f || nr == SONDE_NR_FUTEX)
		return 0;
	if ((ret == -EAGAIN || ret == -EINPROGRESS) && socket_io(nr))
		note_wait(f, t->sys_fd);
	__u32 n = f->nsyscalls;
	for (int i = 0; i < SONDE_MAX_SYSCALLS; i++) {
		if (i >= n)
			break;
		if (f->sys[i].nr == nr) {
			f->sys[i].count++;
			f->sys[i].ns += ns;
			return 0;
		}
	}
	if (n >= SONDE_MAX_SYSCALLS) {
		count(SONDE_STAT_SYSCALLS_LOST);
		return 0;
	}
	f->sys[n & (SONDE_MAX_SYSCALLS - 1)].nr = nr;
	f->sys[n & (SONDE_MAX_SYSCALLS - 1)].count = 1;
	f->sys[n & (SONDE_MAX_SYSCALLS - 1)].ns = ns;
	f->nsyscalls = n + 1;
	return 0;
}

/*
 * A thread exits (for every thread on the machine: two hash deletes that miss
 * for threads Sonde never followed). Its state goes, and its process's STW
 * record with its leader, so a thread or process later given the same id
 * starts clean.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sonde_task_exit, struct task_struct *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	bpf_map_delete_elem(&threads, &tid);
	if (tid == tgid)
		bpf_map_delete_elem(&stws, &tgid);
	return 0;
}

/* ---- one link per file: every uprobe through one program ---- */

/*
 * With multi-uprobe links, each link's removal costs the kernel one SRCU grace
 * period (~16 ms measured here, and they don't overlap), so a file gets one link
 * for all its probes rather than one per program: this program, at every offset,
 * with the probe's program in the cookie's high 32 bits (an index into
 * uprobe_progs, filled by user space; daemon/Tracing/HttpTracer.cs
 * UprobePrograms) and the binary's config slot in the low 32. The tail call
 * keeps the cookie (it is the same invocation) and costs no trap.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u32);
} uprobe_progs SEC(".maps");

SEC("uprobe")
int sonde_uprobe(struct pt_regs *ctx)
{
	bpf_tail_call(ctx, &uprobe_progs, (__u32)(bpf_get_attach_cookie(ctx) >> 32));
	return 0;
}

