// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Request spans of Go net/http servers.
 *
 * start: net/http.serverHandler.ServeHTTP, at the first instruction of its
 *        prologue that the kernel emulates (a jcc), with the entry's registers.
 * gin:   in github.com/gin-gonic/gin.(*Engine).ServeHTTP, the call of
 *        sync.(*Pool).Put(c) that follows handleHTTPRequest: c (the data word
 *        of Put's `any` argument, RCX) still holds this request's fullPath.
 *        After Put another goroutine may take and reset c, so it is read
 *        here; the string's bytes belong to Gin's route tree, not to c, so
 *        they are still valid when the request ends.
 * end:   the first emulated instruction after each call of ServeHTTP (the
 *        caller's next call), or, where that can't be found, every RET of
 *        ServeHTTP. Never a uretprobe: Go moves goroutine stacks and the
 *        return trampoline corrupts them.
 *
 * In-flight requests are keyed by (tgid, g): one goroutine serves one request
 * at a time. ServeHTTP's prologue may run twice for one call (morestack
 * starts the function over): the second start simply overwrites the first.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "http.h"
#include "go_abi.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct inflight_key {
	__u64 g;
	__u32 tgid;
	__u32 _pad;
};

struct inflight {
	__u64 start_ns;
	__s64 goid;
	__u64 req;      /* *http.Request */
	__u64 rw;       /* ResponseWriter's data word (a *response for HTTP/1) */
	struct go_string route; /* gin.Context.fullPath, if seen */
	__u32 tid;
	__u32 config;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SONDE_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct sonde_go_config);
} configs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct inflight_key);
	__type(value, struct inflight);
} inflight SEC(".maps");

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
struct sonde_go_config _sonde_go_config_btf = {};

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);
	if (v)
		(*v)++;
}

SEC("uprobe")
int sonde_http_start(struct pt_regs *ctx)
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
	struct inflight val = {
		.start_ns = bpf_ktime_get_ns(),
		.req = GO_ARG4(ctx),
		.rw = GO_ARG3(ctx),
		.tid = (__u32)id,
		.config = cfg_idx,
	};
	bpf_probe_read_user(&val.goid, sizeof(val.goid), (void *)(key.g + cfg->g_goid));
	bpf_map_update_elem(&inflight, &key, &val, BPF_ANY);
	return 0;
}

SEC("uprobe")
int sonde_gin_route(struct pt_regs *ctx)
{
	count(SONDE_STAT_GIN_HITS);
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight_key key = { .g = GO_G(ctx), .tgid = id >> 32 };
	struct inflight *f = bpf_map_lookup_elem(&inflight, &key);
	if (!f)
		return 0;
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &f->config);
	if (!cfg || cfg->gin_ctx_full_path == 0)
		return 0;
	/* sync.(*Pool).Put(p, x any): p in RAX, x's type word in RBX, data word (c) in RCX. */
	__u64 c = GO_ARG3(ctx);
	bpf_probe_read_user(&f->route, sizeof(f->route), (void *)(c + cfg->gin_ctx_full_path));
	return 0;
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
	struct sonde_go_config *cfg = bpf_map_lookup_elem(&configs, &f->config);
	if (!cfg)
		goto out;

	struct sonde_http_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(SONDE_STAT_DROPS);
		goto out;
	}
	e->start_ns = f->start_ns;
	e->duration_ns = now - f->start_ns;
	e->goid = f->goid;
	e->pid = key.tgid;
	e->tid = f->tid;
	e->config = (__u16)f->config;
	e->flags = end_flags;
	e->status = 0;
	e->route_len = 0;
	e->_pad = 0;

	/*
	 * Status: only when the ResponseWriter is net/http's *response, which we
	 * recognise by response.req pointing back at this request.
	 */
	if (f->rw && go_read_ptr(f->rw + cfg->resp_req) == f->req) {
		__u64 status = go_read_ptr(f->rw + cfg->resp_status);
		/* 0: the handler wrote nothing; finishRequest will send 200. */
		e->status = status == 0 ? 200 : (__u16)status;
	} else {
		e->flags |= SONDE_F_STATUS_UNKNOWN;
	}

	int trunc = 0;
	e->method_len = go_read_string(e->method, SONDE_METHOD_MAX, f->req + cfg->req_method, &trunc);
	trunc = 0;
	__u64 url = go_read_ptr(f->req + cfg->req_url);
	__u32 n = 0;
	if (url) {
		/* RawPath is the original encoding when it differs from Path. */
		n = go_read_string(e->path, SONDE_PATH_MAX, url + cfg->url_raw_path, &trunc);
		if (n == 0)
			n = go_read_string(e->path, SONDE_PATH_MAX, url + cfg->url_path, &trunc);
	}
	e->path_len = n;
	if (trunc)
		e->flags |= SONDE_F_PATH_TRUNCATED;

	trunc = 0;
	e->route_len = go_copy_string(e->route, SONDE_ROUTE_MAX, f->route.ptr, f->route.len, &trunc);
	if (trunc)
		e->flags |= SONDE_F_ROUTE_TRUNCATED;
	bpf_ringbuf_submit(e, wakeup_flags());
	count(SONDE_STAT_EVENTS);
out:
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
