/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by bpf/http.bpf.c and the C# reader (daemon/Tracing/HttpEvent.cs,
 * daemon/Tracing/GoTargetConfig.cs). A test compares both sides' layouts with
 * the BTF of the compiled object: change one, change the other.
 */
#ifndef SONDE_HTTP_H
#define SONDE_HTTP_H

#define SONDE_METHOD_MAX 16
#define SONDE_PATH_MAX   128
#define SONDE_ROUTE_MAX  128
#define SONDE_MAX_TARGETS 1024 /* default; user space sets the configs map's size before load */
#define SONDE_MAX_SYSCALLS 16   /* distinct syscalls kept per request */
#define SONDE_WAIT_REASONS 64   /* runtime.waitReason values mapped per Go version */
#define SONDE_ROUTE_PARTS 4     /* pieces of a route joined at the end (chi's RoutePatterns) */
#define SONDE_MAX_PEERS 8       /* distinct peers whose waits are kept per request */
#define SONDE_PEER_ADDR_MAX 40  /* an IPv4/IPv6 address, or a Unix socket's path (cut at this length) */
#define SONDE_MAX_CALLS 4       /* outgoing HTTP calls kept per request */
#define SONDE_CALL_HOST_MAX 64  /* a call's URL host (cut at this length) */
#define SONDE_CALL_PATH_MAX 64  /* a call's URL path (cut at this length) */

/* Where a request's time went (the JSON record's breakdown_ns keys, in order). */
enum sonde_category {
	SONDE_CAT_ON_CPU = 0,
	SONDE_CAT_RUNNABLE,
	SONDE_CAT_NET_IO,
	SONDE_CAT_SYSCALL,
	SONDE_CAT_LOCK,
	SONDE_CAT_CHAN,
	SONDE_CAT_SLEEP,
	SONDE_CAT_GC,
	SONDE_CAT_OTHER,
	SONDE_CAT_STOLEN,   /* on a CPU by the guest's account while the hypervisor ran something else */
	SONDE_CAT_MAX,
};

/* Event flags. */
#define SONDE_F_PATH_TRUNCATED  (1 << 0)
#define SONDE_F_ROUTE_TRUNCATED (1 << 1)
#define SONDE_F_STATUS_UNKNOWN  (1 << 2) /* the ResponseWriter was not net/http's *response */
#define SONDE_F_END_AT_RET      (1 << 3) /* ended by a RET probe, not a call-site probe */
#define SONDE_F_BREAKDOWN       (1 << 4) /* breakdown_ns and syscalls are filled in */
#define SONDE_F_GRPC            (1 << 5) /* a gRPC call served by grpc-go: path is the full method */
#define SONDE_F_GRPC_STATUS     (1 << 6) /* grpc_status holds the call's status code */
#define SONDE_F_CALLS           (1 << 7) /* the outgoing calls were traced (the client's probes are attached): call_count holds them all */

/* Counters in the `stats` per-CPU array. */
enum sonde_stat {
	SONDE_STAT_START_HITS = 0,  /* ServeHTTP entry probe */
	SONDE_STAT_END_HITS,        /* end probe (call site or RET) */
	SONDE_STAT_ROUTE_HITS,      /* router probes (gin, echo, chi: before the context goes back to its pool; gorilla/mux) */
	SONDE_STAT_EVENTS,          /* events submitted */
	SONDE_STAT_DROPS,           /* ring buffer full: bpf_ringbuf_reserve failed */
	SONDE_STAT_END_UNMATCHED,   /* end without a start (attached mid-request) */
	SONDE_STAT_START_NO_CONFIG, /* start from a binary Sonde has no offsets for */
	SONDE_STAT_RUNTIME_HITS,    /* Go scheduler probes (gopark, execute, ready, STW) */
	SONDE_STAT_SYSCALLS_LOST,   /* syscalls past SONDE_MAX_SYSCALLS distinct ones */
	SONDE_STAT_GRPC_STATUS_HITS,/* grpc-go's WriteStatus probe */
	SONDE_STAT_INFLIGHT_FULL,   /* start not recorded: the inflight map was full */
	SONDE_STAT_ABANDONED,       /* start on a goroutine whose previous request never ended (its end was not reached) */
	SONDE_STAT_STATE_FULL,      /* breakdown: a thread or process not followed, the threads or stws map was full */
	SONDE_STAT_RUNTIME_REQUEST_HITS, /* Go scheduler probe hits that moved a request's state (the rest served none) */
	SONDE_STAT_PEERS_LOST,      /* network waits on peers past SONDE_MAX_PEERS distinct ones (their time stays in net_io) */
	SONDE_STAT_CLIENT_HITS,     /* net/http client probes (round trip, dial, connection, response head) */
	SONDE_STAT_CALLS_LOST,      /* outgoing calls past SONDE_MAX_CALLS in one request */
	SONDE_STAT_DIALS_UNMATCHED, /* dials that ended with their call's request gone (or not seen whole): phases dropped */
	SONDE_STAT_MAX,
};

/*
 * Per-binary facts, written by user space before attaching, indexed by the
 * uprobe's bpf_cookie. Offsets come from DWARF or from the Go-version table.
 */
struct sonde_go_config {
	__u32 g_goid;          /* runtime.g.goid */
	__u32 req_method;      /* net/http.Request.Method (string) */
	__u32 req_url;         /* net/http.Request.URL (*url.URL) */
	__u32 url_path;        /* net/url.URL.Path (string) */
	__u32 url_raw_path;    /* net/url.URL.RawPath (string) */
	__u32 resp_req;        /* net/http.response.req (*Request) */
	__u32 resp_status;     /* net/http.response.status (int) */
	__u32 gin_ctx_full_path; /* gin.Context.fullPath (string); 0: no Gin routes */
	__u32 echo_ctx_path;   /* echo.context.path (string); 0: no echo routes */
	__u32 chi_ctx_patterns;/* chi.Context.RoutePatterns ([]string); 0: no chi routes */
	__u32 mux_route_regexp_path; /* mux.Route's routeConf.regexp.path (*routeRegexp); 0: no gorilla/mux routes */
	__u32 mux_regexp_template;   /* mux.routeRegexp.template (string) */
	__u32 req_pattern;     /* net/http.Request.Pattern (string, go1.23+); 0: none */
	__u32 req_proto_major; /* net/http.Request.ProtoMajor (int) */
	__u32 h2_writer_state; /* HTTP/2 responseWriter.rws (*responseWriterState) */
	__u32 h2_state_status; /* responseWriterState.status (int); 0: HTTP/2 status unknown */
	__u32 grpc_stream_method; /* grpc-go transport.Stream.method (string) */
	__u32 grpc_status_proto;  /* grpc internal/status.Status.s (*spb.Status) */
	__u32 grpc_proto_code;    /* spb.Status.Code (int32) */
	__u32 grpc_status_stream_arg; /* WriteStatus: the argument (1-4) holding the stream; 0: not checked */
	__u32 grpc_status_arg;    /* WriteStatus: the argument (1-4) holding the *status.Status; 0: no gRPC status */
	__u32 url_scheme;      /* net/url.URL.Scheme (string) */
	__u32 url_host;        /* net/url.URL.Host (string) */
	__u32 resp_status_code;/* net/http.Response.StatusCode (int); 0: no outgoing calls */
	__u32 g_parent_goid;   /* runtime.g.parentGoid (go1.21+); 0: calls on the request's own goroutine only */
	__u32 resp_body;       /* net/http.Response.Body (io.ReadCloser: its data word 8 bytes on); 0: bodies not timed */
	__u32 h2_resp_body;    /* net/http/internal/http2.ClientResponse.Body (go1.27): what its round trip returns; 0: none */
	__u32 valid;           /* 1 once user space filled this slot */
	__u32 breakdown;       /* 1: the scheduler probes and tracepoints are attached */
	__u32 filter_tgids;    /* 1: probes cover every process of the file; trace only tgids in `tgids` */
	/* runtime.waitReason -> enum sonde_category, for this binary's Go version */
	__u8 wait_category[SONDE_WAIT_REASONS];
};

/*
 * The head of a request's in-flight entry (bpf/http.bpf.c struct inflight):
 * user space reads it when a process exits, to remove what it left in flight.
 */
struct sonde_inflight_head {
	__u32 ns_tgid;  /* the process as Sonde sees it (its pid namespace) */
	__u32 config;
	__u64 start_ns; /* CLOCK_MONOTONIC at the request's start */
};

/* What a request's goroutine waited on in the netpoller (struct sonde_peer.kind). */
enum sonde_peer_kind {
	SONDE_PEER_NONE = 0,
	SONDE_PEER_IPV4,    /* addr[0..4), port: the socket's remote end */
	SONDE_PEER_IPV6,    /* addr[0..16), port */
	SONDE_PEER_UNIX,    /* addr: the path the peer is bound to (addr_len 0: unnamed; a leading 0 byte: abstract) */
	SONDE_PEER_CLIENT,  /* a connection the process accepted: the request's client (or another one's) */
};

#define SONDE_PEER_F_TRUNCATED (1 << 0) /* a Unix path longer than SONDE_PEER_ADDR_MAX */
#define SONDE_PEER_F_UDP       (1 << 1) /* a datagram socket (a DNS lookup, usually) */

/* The remote end of a socket, as the kernel knows it (48 bytes: bpf/http.bpf.c compares it as 6 words). */
struct sonde_peer {
	__u8 kind;
	__u8 flags;
	__u16 port;     /* host order */
	__u16 addr_len;
	__u16 _pad;
	__u8 addr[SONDE_PEER_ADDR_MAX];
};

/* A request's parks in the netpoller on one peer: how many, and how long (within its net_io). */
struct sonde_peer_wait {
	struct sonde_peer peer;
	__u32 count;
	__u32 _pad;
	__u64 ns;
};

/* struct sonde_call.flags */
#define SONDE_CALL_F_TLS       (1 << 0) /* an https URL */
#define SONDE_CALL_F_NEW_CONN  (1 << 1) /* no idle connection: one was dialed for it */
#define SONDE_CALL_F_CONN      (1 << 2) /* conn_ns is set: it had a connection */
#define SONDE_CALL_F_DONE      (1 << 3) /* the round trip returned: head_ns, and status or SONDE_CALL_F_ERROR */
#define SONDE_CALL_F_ERROR     (1 << 4) /* it returned an error, no response */
#define SONDE_CALL_F_HOST_TRUNCATED (1 << 5)
#define SONDE_CALL_F_PATH_TRUNCATED (1 << 6)
#define SONDE_CALL_F_DIAL      (1 << 7) /* dns_ns, connect_ns and tls_ns are set: the dial made for it finished */
#define SONDE_CALL_F_BODY      (1 << 8) /* body_ns is set: the caller closed the response's body */
/* An outgoing HTTP call of net/http's client, made on the request's goroutine (200 bytes). */
struct sonde_call {
	__u64 start_ns; /* CLOCK_MONOTONIC at the round trip's start */
	__u64 conn_ns;  /* from the start until it had a connection (SONDE_CALL_F_CONN) */
	__u64 head_ns;  /* from the start until the round trip returned, the response's head read (SONDE_CALL_F_DONE) */
	__u64 dns_ns;   /* the dial made for it (SONDE_CALL_F_DIAL), on its own goroutine: resolving the host, */
	__u64 connect_ns; /* connecting, */
	__u64 tls_ns;   /* and the TLS handshake (0 for http) */
	__u64 body_ns;  /* from the start until the caller closed the response's body (SONDE_CALL_F_BODY) */
	__u64 body;     /* the response body's data pointer (resp.Body), to know its Close; 0: not known */
	__u64 body_alt; /* the same read where go1.27's HTTP/2 client keeps it (ClientResponse.Body) */
	__u16 status;   /* the response's status code (SONDE_CALL_F_DONE without SONDE_CALL_F_ERROR) */
	__u16 flags;    /* SONDE_CALL_F_* */
	__u8 method_len;
	__u8 host_len;
	__u8 path_len;
	__u8 _pad;
	char method[SONDE_METHOD_MAX];
	char host[SONDE_CALL_HOST_MAX];
	char path[SONDE_CALL_PATH_MAX];
};
/* One syscall's totals within a request. */
struct sonde_syscall_stat {
	__u32 nr;
	__u32 count;
	__u64 ns;
};

/*
 * One completed request: every ring buffer record starts with this. With
 * SONDE_F_BREAKDOWN, a struct sonde_http_breakdown follows, holding only the
 * syscalls that occurred (syscall_count of them): the record's length says
 * how long it is.
 */
struct sonde_http_event {
	__u64 start_ns;     /* CLOCK_MONOTONIC at handler entry */
	__u64 duration_ns;
	__s64 goid;
	__u32 pid;          /* tgid */
	__u32 tid;          /* thread that entered the handler */
	__u16 status;       /* 0 = unknown */
	__u16 flags;        /* SONDE_F_* */
	__u16 method_len;
	__u16 path_len;
	__u16 route_len;    /* 0 = no route known */
	__u16 config;       /* index into the config map (which binary) */
	__u16 grpc_status;  /* with SONDE_F_GRPC_STATUS: the gRPC status code */
	__u16 _pad;
	char method[SONDE_METHOD_MAX];
	char path[SONDE_PATH_MAX];
	char route[SONDE_ROUTE_MAX];
};

/*
 * Where a request's time went: after the event, with SONDE_F_BREAKDOWN. In a
 * record, the peer_count peer waits come right after the syscall_count
 * syscalls, and the call_count calls right after them (peers[] and calls[]
 * here are only the room for them).
 */
struct sonde_http_breakdown {
	__u64 breakdown_ns[SONDE_CAT_MAX];
	__u32 syscall_count;                /* entries of syscalls[] in the record */
	__u32 peer_count;                   /* struct sonde_peer_wait entries after them */
	__u32 call_count;                   /* struct sonde_call entries after those */
	__u32 _pad;
	struct sonde_syscall_stat syscalls[SONDE_MAX_SYSCALLS];
	struct sonde_peer_wait peers[SONDE_MAX_PEERS];
	struct sonde_call calls[SONDE_MAX_CALLS];
};

/* The longest record. */
struct sonde_http_record {
	struct sonde_http_event e;
	struct sonde_http_breakdown b;
};

#endif
