"""BENCHMARKS.md and the overhead plot, from a run's results."""
import os
import statistics
import subprocess

from .processes import BenchError

TARGET_RATE = 10e6      # events/s on one core, 64-byte events
TARGET_RATIO = 0.8      # of libbpf's consumer
TARGET_BYTES = 0        # allocated per event


def _med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _span(values):
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else (None, None)


def _m(x, digits=1):
    return "–" if x is None else f"{x / 1e6:.{digits}f} M"


def _pct(x):
    return "–" if x is None else f"{x * 100:.0f} %"


def _f(x, fmt="{:.2f}"):
    return "–" if x is None else fmt.format(x)


def _us(x):
    if x is None:
        return "–"
    if abs(x) >= 10000:
        return f"{x / 1000:.0f} ms"
    if abs(x) >= 1000:
        return f"{x / 1000:.1f} ms"
    return f"{x:.0f} µs" if abs(x) >= 10 else f"{x:.1f} µs"


def _mib(kib):
    return "–" if kib is None else f"{kib / 1024:.0f} MiB"


# ---------------------------------------------------------------- ring buffer

def ringbuf_summary(results):
    """Per consumer and mode: medians over rounds; and the per-round ratios sonde/libbpf."""
    by = {}
    for r in results:
        by.setdefault((r["consumer_key"], r["mode"]), []).append(r)

    def stat(key, mode, f):
        return _med([f(r) for r in by.get((key, mode), [])])

    def ratio(mode, f):
        rounds = {}
        for r in results:
            if r["mode"] == mode:
                rounds.setdefault(r["round"], {})[r["consumer_key"]] = f(r)
        return [v["sonde"] / v["libbpf"] for v in rounds.values() if v.get("libbpf") and "sonde" in v]

    wall = lambda r: r["events"] / r["seconds"]
    per_cpu = lambda r: r["events"] / r["cpu_seconds"] if r["cpu_seconds"] > 0 else None
    s = {"consumers": {}}
    for key in ("libbpf", "sonde"):
        rows = by.get((key, "stream"), []) + by.get((key, "drain"), [])
        if not rows:
            continue
        s["consumers"][key] = {
            "names": sorted({r["consumer"] for r in rows}),
            "stream_rate": stat(key, "stream", wall),
            "stream_cpu": stat(key, "stream", lambda r: r["cpu_seconds"] / r["seconds"]),
            "stream_per_cpu": stat(key, "stream", per_cpu),
            "stream_per_read": stat(key, "stream", lambda r: r["events"] / r["batches"] if r["batches"] else None),
            "stream_failed": sum(r["failed"] for r in by.get((key, "stream"), [])),
            "stream_produced": sum(r["produced"] for r in by.get((key, "stream"), [])),
            "drain_per_cpu": stat(key, "drain", per_cpu),
            "drain_rate": stat(key, "drain", wall),
            "drain_read_share": stat(key, "drain", lambda r: r["read_seconds"] / r["seconds"] if "read_seconds" in r else None),
            "thread_bytes_per_event": max((r["thread_bytes"] / r["events"] for r in rows if "thread_bytes" in r), default=None),
            "process_bytes_per_event": max((r["process_bytes"] / r["events"] for r in rows if "process_bytes" in r), default=None),
            "gcs": sum(r["gcs"] for r in rows) if any("gcs" in r for r in rows) else None,
            "events": sum(r["events"] for r in rows),
        }
    s["ratio_stream_rate"] = ratio("stream", wall)
    s["ratio_stream_per_cpu"] = ratio("stream", per_cpu)
    s["ratio_drain_per_cpu"] = ratio("drain", per_cpu)
    s["rounds"] = len({r["round"] for r in results})
    return s


def _ringbuf_section(s, params):
    c = s["consumers"]
    lb, so = c.get("libbpf", {}), c.get("sonde", {})
    out = [
        "## 1. Ring buffer consumer",
        "",
        f"One producer process on CPU 1 calls `getpgid()` in a loop; each call runs `bpf/bench.bpf.c` "
        f"(raw tracepoint `sys_enter`), which emits {params['batch']} records of 64 bytes with `bpf_loop` "
        f"into a {params['ring_bytes'] >> 20} MiB ring buffer, with `bpf/http.bpf.c`'s wake-up policy "
        f"(no wake-up until the ring is 1/8 full), counting failed reservations. The consumer process runs on CPU 0 "
        f"(all of its threads: `taskset -c 0`); the two cores are split one each, nothing else of the bench runs. "
        f"Each consumer decodes every record in place (length, magic, a payload word, sequence order) and, at the end, "
        f"must account for every record produced. Median of {s['rounds']} rounds, consumers alternating; "
        f"{params['warmup_s']} s warm-up (JIT tiering), {params['measure_s']} s measured.",
        "",
        "- **stream**: the consumer runs its production loop while the producer runs flat out: libbpf's "
        "`ring_buffer__poll()`; Sonde's `RingBufferReader.ReadAsync` + `RingBufferRecords` loop exactly as "
        "`HttpTracer.RunAsync`/`Consume` run it. When no reservation fails, the rate is the producer's, and "
        "the consumer's CPU time per event is what tells the consumers apart.",
        "- **drain**: consumer-bound. The producer fills the ring for 20 ms, then the consumer empties it "
        "(`ring_buffer__consume()`; `TryRead` + `RingBufferRecords`) while the producer keeps refilling; only "
        "the drains are timed, with the consuming thread's CPU clock.",
        "",
        "| consumer | stream: events/s | consumer CPU | events per CPU-second | events per read | drain: events per CPU-second | allocated per event (consumer thread / process) | GCs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label, d):
        if not d:
            return f"| {label} | – | – | – | – | – | – | – |"
        alloc = "–" if d["thread_bytes_per_event"] is None else \
            f"{d['thread_bytes_per_event']:.4f} B / {d['process_bytes_per_event']:.4f} B"
        return (f"| {label} | {_m(d['stream_rate'])} | {_pct(d['stream_cpu'])} | {_m(d['stream_per_cpu'])} | "
                f"{_f(d['stream_per_read'], '{:.0f}')} | {_m(d['drain_per_cpu'])} | {alloc} | "
                f"{'–' if d['gcs'] is None else d['gcs']} |")

    out.append(row("libbpf 1.1 (`ring_buffer__poll` / `__consume`), C", lb))
    out.append(row("Sonde `RingBufferReader` (`ReadAsync` / `TryRead`), .NET", so))
    r1, r2, r3 = (_med(s[k]) for k in ("ratio_stream_rate", "ratio_stream_per_cpu", "ratio_drain_per_cpu"))
    sp = lambda k: "" if not s[k] else " ({:.2f}–{:.2f})".format(*_span(s[k]))
    out.append(f"| **Sonde ÷ libbpf** (median of per-round ratios, min–max) | {_f(r1)}×{sp('ratio_stream_rate')} | | "
               f"{_f(r2)}×{sp('ratio_stream_per_cpu')} | | {_f(r3)}×{sp('ratio_drain_per_cpu')} | | |")
    out.append("")
    failed = sum(d.get("stream_failed", 0) for d in c.values())
    produced = sum(d.get("stream_produced", 0) for d in c.values())
    out.append(f"In the stream windows {failed:,} of {produced + failed:,} reservations failed "
               f"({'the producer, not the consumer, set the stream rate' if failed == 0 else 'a consumer fell behind'}).")
    if so.get("drain_read_share") is not None:
        out.append(f"Sonde's drain spends {_pct(so['drain_read_share'])} of its time in `TryRead` (a check that the "
                   f"first unconsumed record is complete) and the rest walking and decoding the records, once, with "
                   f"`RingBufferRecords`, as libbpf does.")
    out.append("Why Sonde's stream reads are so much larger (events per read): its `ReadAsync` waits while fewer than "
               "1/8 of the ring's bytes are new, until the producer's forced wake-up at 1/8 full or the 20 ms poll "
               "interval, so a consumer that keeps up reads in large batches. libbpf's `ring_buffer__poll()` consumes "
               "whatever is there as soon as epoll reports the ring readable, a few dozen records at a time, and "
               "its reads of the producer position contend with the producer for that cache line, which also "
               "slows the producer.")
    out.append("")
    # Targets.
    capacity = so.get("drain_per_cpu")
    verdict = lambda ok: "met" if ok else "**missed**"
    out += [
        "| target | measured | |",
        "|---|---|---|",
        f"| ≥ 10 M events/s on one core (64-byte events) | consumer-bound (drain): {_m(capacity)} events per CPU-second; "
        f"steady state (stream): kept up with the producer's {_m(so.get('stream_rate'))} events/s using "
        f"{_pct(so.get('stream_cpu'))} of its core | {verdict(capacity and capacity >= TARGET_RATE)} |",
        f"| ≥ 0.8× libbpf's consumer, consumer-bound | drain: {_f(r3)}× libbpf's events per CPU-second | "
        f"{verdict(r3 and r3 >= TARGET_RATIO)} |",
        f"| ≥ 0.8× libbpf's consumer, steady state | stream: {_f(r2)}× libbpf's events per CPU-second "
        f"({_f(r1)}× its events/s) | {verdict(r2 and r2 >= TARGET_RATIO)} |",
        f"| 0 bytes allocated per event | {_f(so.get('thread_bytes_per_event'), '{:.4f}')} B on the consuming thread, "
        f"{_f(so.get('process_bytes_per_event'), '{:.4f}')} B in the whole process; {so.get('gcs', '–')} GCs | "
        f"{verdict(so.get('thread_bytes_per_event') == 0)} |",
        "",
    ]
    return out


# ---------------------------------------------------------------- overhead

def overhead_summary(results, variants):
    """Per server and variant: medians of the measures and of the per-round ratios to untraced."""
    base = {(r["server"], r["round"]): r for r in results if r["variant"] == "untraced"}
    out = {}
    for r in results:
        b = base.get((r["server"], r["round"]))
        d = out.setdefault((r["server"], r["variant"]), {"label": r["label"], "kind": r["kind"], "rows": [], "ratio": [], "ratio_cpu": [],
                                                          "added_p50": [], "added_light_p50": [], "added_server_cpu": []})
        d["rows"].append(r)
        if b:
            d["ratio"].append(r["rps"] / b["rps"])
            d["ratio_cpu"].append(b["server_cpu_us_per_req"] / r["server_cpu_us_per_req"])
            d["added_p50"].append(r["p50_us"] - b["p50_us"])
            d["added_light_p50"].append(r["light_p50_us"] - b["light_p50_us"])
            d["added_server_cpu"].append(r["server_cpu_us_per_req"] - b["server_cpu_us_per_req"])
    for d in out.values():
        rows = d["rows"]
        for k in ("rps", "p50_us", "p99_us", "light_p50_us", "light_p99_us", "server_cpu_us_per_req", "server_cpu_share",
                  "tracer_cpu_us_per_req", "tracer_cpu_share", "bpf_ns_per_req", "hits_per_req", "rss_idle_kib",
                  "rss_load_kib", "rss_peak_kib", "ready_s", "other_load"):
            d[k] = _med([r.get(k) for r in rows])
        d["ready_span"] = _span([r.get("ready_s") for r in rows])
        d["drops"] = sum(r.get("sonde_drops", 0) for r in rows)
        progs = {}
        for r in rows:
            for name, v in (r.get("bpf") or {}).items():
                progs.setdefault(name, []).append((v["run_time_ns"], v["run_cnt"], r["requests"]))
        d["progs"] = {n: {"ns_per_hit": _med([ns / cnt for ns, cnt, _ in v if cnt]),
                          "hits_per_req": _med([cnt / req for _, cnt, req in v])} for n, v in progs.items()}
    return out


def _overhead_section(summary, servers, variants, params, rounds):
    out = [
        "## 2. Overhead on a Go service",
        "",
        f"Go hello-world servers (`tests/goservers/nethttp`, `tests/goservers/gin`, route `/hello`) pinned to CPU 0 "
        f"(`taskset`; GOMAXPROCS follows the affinity: 1), saturated by `wrk -t1 -c16` pinned to CPU 1 for "
        f"{params['measure_s']} s after a {params['warm_s']} s warm-up. Then {params['light_s']} s of `wrk -t1 -c1` "
        f"(one request at a time: no queueing, so its p50 minus untraced's is the latency a request gains). "
        f"Tracers run unpinned, as deployed: their BPF programs run on CPU 0 inside the server's threads; their "
        f"user-space threads go where the scheduler puts them. Each round runs every variant once, in an order "
        f"rotated per round; ratios are to the same round's untraced run; median of {rounds} rounds (min–max). "
        f"Before each round the harness waits (up to {params['quiet_wait_s']} s) for the machine to go idle. "
        f"Requests per *server CPU-second* (the server's utime + stime) discount time other processes took "
        f"from the server's core, so that ratio is the steadier of the two when the machine is shared.",
        "",
    ]
    keys = {key for key, _, _ in variants}
    labels = {key: label for key, label, _ in variants}
    if "trace-breakdown" in keys:
        out.append("- `sonde trace --pid P --no-summary --breakdown off`: call-site end probes (the default, "
                   "`--end-probe auto`) and nothing else: the least a request costs to trace.")
        out.append("- `sonde trace --pid P --no-summary --breakdown on`, `sonde trace`'s default: the same, plus the "
                   "breakdown's probes: Go scheduler uprobes (park, execute, ready, stop-the-world) in the server and "
                   "the kernel tracepoints `sched_switch`, `sched_wakeup`, `sys_enter` and `sys_exit`, which run for "
                   "every task on the machine.")
    else:
        out.append("- `sonde trace --pid P --no-summary`: call-site end probes (the default, `--end-probe auto`).")
    if "trace-ret" in keys:
        out.append(f"- `{labels['trace-ret']}`: a uprobe on every RET of `ServeHTTP` instead of the call-site "
                   "end probes (single-stepped).")
    if "run" in keys:
        out.append("- `sonde run` (daemon, defaults: breakdown on): `sonde run --config FILE` with a configuration "
                   "written per server, `{\"targets\": [{\"pids\": [P], \"service\": \"bench\"}], \"metrics\": "
                   "{\"listen\": \"127.0.0.1:PORT\"}}`, everything else the packaged defaults (what a service install "
                   "runs: end probes `auto`, the breakdown on, 8 MiB ring); ready at its `ready:` log line, with "
                   "`sonde_targets 1` checked on its `/metrics`; stopped with SIGTERM. Its Prometheus histograms are "
                   "updated for every request, and nothing scrapes them during the window.")
    out += [
        "- bpftrace (peer): `tests/bench/peer/http_latency.bt`, uprobes at the entries of "
        "`net/http.serverHandler.ServeHTTP` and `net/http.(*response).finishRequest`, keyed by goroutine (R14), "
        "a latency `hist`.",
        "",
    ]
    for name, _ in servers:
        out += [f"### {name}", "",
                "| variant | requests/s | ÷ untraced (min–max) | requests per server CPU-second ÷ untraced (min–max) | p50 | p99 | p50 added | c=1 p50 | c=1 p50 added |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for key, label, _ in variants:
            d = summary.get((name, key))
            if not d:
                continue
            lo, hi = _span(d["ratio"])
            ratio = "1" if key == "untraced" else f"**{_med(d['ratio']):.2f}×** ({lo:.2f}–{hi:.2f})"
            lo, hi = _span(d["ratio_cpu"])
            ratio_cpu = "1" if key == "untraced" else f"{_med(d['ratio_cpu']):.2f}× ({lo:.2f}–{hi:.2f})"
            added = "" if key == "untraced" else _us(_med(d["added_p50"]))
            added_l = "" if key == "untraced" else _us(_med(d["added_light_p50"]))
            out.append(f"| {label} | {d['rps']:,.0f} | {ratio} | {ratio_cpu} | {_us(d['p50_us'])} | {_us(d['p99_us'])} | {added} | "
                       f"{_us(d['light_p50_us'])} | {added_l} |")
        out.append("")
    return out


TARGET_THROUGHPUT_OFF = 0.95   # of untraced, --breakdown off
TARGET_THROUGHPUT_ON = 0.85    # of untraced, breakdown on
TARGET_P50_ADDED_US = 10.0     # one request at a time
TARGET_COST_OFF_US = 3.0       # tracer CPU + BPF run time per request
TARGET_COST_ON_US = 8.0
TARGET_BPF_OFF_NS = 400        # BPF run time per request, --breakdown off
TARGET_SCHED_TRAPS = 3.0       # Go scheduler uprobe hits per request, breakdown on


def _sched_uprobe_hits(on, off):
    """Go scheduler uprobe hits per request of a breakdown-on run (None: not known)."""
    progs = on.get("progs", {})
    sched = sum(v["hits_per_req"] for n, v in progs.items() if n.startswith("sonde_go_"))
    if not sched and "sonde_uprobe" in progs:
        # Multi-uprobe links: every uprobe runs as the entry program. The scheduler's are
        # its runs beyond the request probes' (the breakdown-off variant's runs of it).
        request_probes = (off or {}).get("progs", {}).get("sonde_uprobe", {}).get("hits_per_req", 2.0)
        sched = progs["sonde_uprobe"]["hits_per_req"] - request_probes
    return sched if progs else None


def _overhead_targets(summary, servers):
    """The issue's overhead and cost targets, met or not, and what bounds the throughput, from this run's numbers."""
    verdict = lambda ok: "met" if ok else "**missed**"
    out = ["### Targets: overhead and cost", "",
           "| server | target | measured | |", "|---|---|---|---|"]
    bounds = []
    for name, _ in servers:
        g = lambda key: summary.get((name, key))
        base, off, on, run, peer = g("untraced"), g("trace"), g("trace-breakdown"), g("run"), g("bpftrace")
        if not base or not off:
            continue
        r_off = _med(off["ratio"])
        out.append(f"| {name} | throughput ≥ {TARGET_THROUGHPUT_OFF}× untraced, `--breakdown off` | {r_off:.2f}× | "
                   f"{verdict(r_off >= TARGET_THROUGHPUT_OFF)} |")
        if on:
            r_on = _med(on["ratio"])
            out.append(f"| {name} | throughput ≥ {TARGET_THROUGHPUT_ON}× untraced, breakdown on | {r_on:.2f}× "
                       f"(`sonde run`: {_med(run['ratio']):.2f}×) | {verdict(r_on >= TARGET_THROUGHPUT_ON)} |" if run else
                       f"| {name} | throughput ≥ {TARGET_THROUGHPUT_ON}× untraced, breakdown on | {r_on:.2f}× | "
                       f"{verdict(r_on >= TARGET_THROUGHPUT_ON)} |")
        for label, d in (("`--breakdown off`", off), ("breakdown on", on)):
            if d:
                a = _med(d["added_light_p50"])
                lo, hi = _span(d["added_light_p50"])
                out.append(f"| {name} | p50 latency added ≤ {TARGET_P50_ADDED_US:.0f} µs ({label}; one request at a time) | "
                           f"{_us(a)} (rounds: {_us(lo)} to {_us(hi)}; server CPU added per request: "
                           f"{_us(_med(d['added_server_cpu']))}) | {verdict(a <= TARGET_P50_ADDED_US)} |")
        if peer:
            rp = _med(peer["ratio"])
            ours = [(lbl, _med(d["ratio"])) for lbl, d in (("off", off), ("on", on), ("`sonde run`", run)) if d]
            worst = min(r for _, r in ours)
            out.append(f"| {name} | better than the bpftrace peer | every Sonde variant ≥ {worst:.2f}×, bpftrace {rp:.2f}× | "
                       f"{verdict(worst > rp)} |")
        for label, d, target in (("`--breakdown off`", off, TARGET_COST_OFF_US), ("breakdown on", on, TARGET_COST_ON_US)):
            if d and d["tracer_cpu_us_per_req"] is not None and d["bpf_ns_per_req"] is not None:
                c = d["tracer_cpu_us_per_req"] + d["bpf_ns_per_req"] / 1000
                out.append(f"| {name} | cost ≤ {target:.0f} µs per request ({label}: tracer CPU + BPF run time) | "
                           f"{c:.1f} µs ({_us(d['tracer_cpu_us_per_req'])} + {d['bpf_ns_per_req'] / 1000:.1f} µs) | "
                           f"{verdict(c <= target)} |")
        if off["bpf_ns_per_req"] is not None:
            per = ", ".join(f"{n} {v['ns_per_hit']:.0f} ns × {v['hits_per_req']:.2f}"
                            for n, v in sorted(off.get("progs", {}).items())
                            if v["ns_per_hit"] is not None and v["hits_per_req"] > 0.001)
            out.append(f"| {name} | BPF ≤ {TARGET_BPF_OFF_NS} ns per request (`--breakdown off`) | "
                       f"{off['bpf_ns_per_req']:.0f} ns ({per}) | {verdict(off['bpf_ns_per_req'] <= TARGET_BPF_OFF_NS)} |")
        if on:
            sched = _sched_uprobe_hits(on, off)
            if sched is not None:
                out.append(f"| {name} | ≤ {TARGET_SCHED_TRAPS:.0f} Go scheduler uprobe hits (traps) per request (breakdown on) | "
                           f"{sched:.1f} | {verdict(sched <= TARGET_SCHED_TRAPS)} |")
        # What bounds the throughput: the server's own CPU per request against what tracing adds to it.
        u = base["server_cpu_us_per_req"]
        a = _med(off["added_server_cpu"])
        b = off["bpf_ns_per_req"] / 1000 if off["bpf_ns_per_req"] is not None else None
        if u and a is not None and b is not None and off["hits_per_req"]:
            traps = max(a - b, 0.0)
            hits = off["hits_per_req"]
            line = (f"**{name}, `--breakdown off`:** untraced, a request costs the server {u:.1f} µs of CPU. Tracing adds "
                    f"{a:.1f} µs: {b:.1f} µs of BPF run time and {traps:.1f} µs for its {hits:.0f} uprobe traps "
                    f"({traps / hits:.2f} µs each: the difference, on probes the kernel emulates, no single-step). "
                    f"With BPF programs that cost nothing, the traps alone would cap throughput at "
                    f"{u / (u + traps):.2f}×; the target of {TARGET_THROUGHPUT_OFF}× allows "
                    f"{u * (1 / TARGET_THROUGHPUT_OFF - 1):.1f} µs in all. A request needs a probe where it starts and "
                    f"one where it ends (Go forbids uretprobes){', plus the Gin route' if hits > 2.5 else ''}: "
                    f"on a {u:.0f} µs request on this VM, {TARGET_THROUGHPUT_OFF}× is out of reach for any tracer that "
                    f"needs two uprobes per request (the bpftrace peer has two as well); "
                    f"a real handler that does more than write \"hello\" costs proportionally less.")
            bounds.append(line)
        if on and u and on["bpf_ns_per_req"] is not None:
            a_on = _med(on["added_server_cpu"])
            b_on = on["bpf_ns_per_req"] / 1000
            progs = on.get("progs", {})
            kernel = sum(v["ns_per_hit"] * v["hits_per_req"] for n, v in progs.items()
                         if n.startswith(("sonde_sys_", "sonde_sched_")) and v["ns_per_hit"] is not None) / 1000
            sched_uprobes = _sched_uprobe_hits(on, off) or 0.0
            bounds.append(f"**{name}, breakdown on:** tracing adds {a_on:.1f} µs of server CPU per request, "
                          f"{b_on:.1f} µs of it BPF run time, {kernel:.1f} µs of which in the kernel tracepoints "
                          f"(`sys_enter`/`sys_exit` for every syscall of every task, `sched_switch`, `sched_wakeup`), "
                          f"and {sched_uprobes:.1f} Go scheduler uprobe hits per request (park, execute, ready) with "
                          f"their traps. {TARGET_THROUGHPUT_ON}× would allow {u * (1 / TARGET_THROUGHPUT_ON - 1):.1f} µs. "
                          f"Knowing which goroutine runs when is what costs: Go switches goroutines without the "
                          f"kernel, so the execute/park probes are the only place to see it.")
    out += ["", "The one-request-at-a-time p50 of wrk on this VM moves by several µs from round to round, "
            "untraced too (its own p50 per round is in results.json): the spread above is that noise, and the "
            "server CPU a request gains on its path is the steadier measure of the latency Sonde adds."]
    out.append("")
    if bounds:
        out += ["What bounds the throughput, from this run's numbers:", ""]
        for b in bounds:
            out += [f"- {b}"]
        out.append("")
    return out


def _cost_section(summary, servers, variants):
    out = [
        "## 3. Cost per request",
        "",
        "Measured over the saturated window of each run. *Tracer CPU*: utime + stime of the tracer process "
        "(`/proc/PID/stat`) ÷ requests. *BPF*: `run_time_ns` and `run_cnt` of the tracer's own BPF programs "
        "(`/proc/PID/fdinfo` of its program fds, so other tracers on the machine don't count; run-time statistics "
        "enabled with `BPF_ENABLE_STATS` for the run) ÷ requests. The `sonde trace` rows attach single uprobes "
        "(`SONDE_UPROBE_MULTI=0`), so that each program keeps statistics of its own; `sonde run` attaches as "
        "deployed, with multi-uprobe links, whose uprobes all run as `sonde_uprobe`, which tail-calls the probe's "
        "program (the callee's time counts as the caller's). BPF run time excludes the uprobe's own cost "
        "(the trap, and the single-step of a non-emulated instruction), which the server pays on its core: "
        "*server CPU added* is the server's CPU time per request minus untraced's, same round. "
        "With the breakdown on (`sonde trace`'s default, `sonde run`'s), the kernel tracepoints run for every task "
        "on the machine, wrk and other processes included, and their runs count here too: *probe hits* are "
        "then BPF program runs, not only uprobe hits in the server.",
        "",
        "| server | variant | tracer CPU / request | tracer CPU (share of a core) | BPF run time / request | probe hits / request | BPF ns per hit, by program | server CPU added / request |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for name, _ in servers:
        for key, label, kind in variants:
            d = summary.get((name, key))
            if not d or key == "untraced":
                continue
            progs = ", ".join(f"{n} {v['ns_per_hit']:.0f} ({v['hits_per_req']:.2f}/req)"
                              for n, v in sorted(d["progs"].items()) if v["ns_per_hit"] is not None and v["hits_per_req"] > 0.001)
            out.append(f"| {name} | {label} | {_us(d['tracer_cpu_us_per_req'])} | {_pct(d['tracer_cpu_share'])} | "
                       f"{_f(d['bpf_ns_per_req'], '{:.0f} ns')} | {_f(d['hits_per_req'])} | {progs or '–'} | "
                       f"{_us(_med(d['added_server_cpu']))} |")
    out.append("")
    return out


TARGET_DAEMON_RSS = 80e6    # bytes, idle, 10 traced processes
TARGET_DAEMON_READY = 1.0   # seconds from start to ready


def _footprint_section(summary, variants, fp, fp_params, oh_params):
    out = [
        "## 4. Footprint",
        "",
    ]
    if summary:
        out += [
            f"With one traced server (benchmark 2's runs): RSS of the tracer process (`VmRSS`): *idle* {oh_params['idle_s']} s "
            "after it is ready with no traffic, *under load* at the end of the saturated window (peak: `VmHWM`). *Time to ready*: "
            "from starting the command to `sonde trace`'s \"N probes attached\" line on stderr (printed once every "
            "probe is attached, the moment tracing begins), `sonde run`'s \"ready:\" log line (its READY=1 moment: "
            "`/metrics` listens and the targets are attached), or bpftrace's BEGIN output. Medians over every run of "
            "the variant, both servers.",
            "",
        ]
    out += [
        "| tracer | RSS idle | RSS under load (peak) | time to ready (min–max) |",
        "|---|---:|---:|---:|",
    ]
    what = {"trace": "start to probes attached", "trace-ret": "start to probes attached",
            "trace-breakdown": "start to probes attached", "run": "start to ready", "bpftrace": "start to BEGIN"}
    for key, label, kind in variants:
        rows = [d for (s, k), d in summary.items() if k == key]
        if not rows or key == "untraced":
            continue
        allrows = [r for d in rows for r in d["rows"]]
        ready = [r.get("ready_s") for r in allrows]
        lo, hi = _span(ready)
        out.append(f"| {label}, 1 traced process | {_mib(_med([r.get('rss_idle_kib') for r in allrows]))} | "
                   f"{_mib(_med([r.get('rss_load_kib') for r in allrows]))} ({_mib(_med([r.get('rss_peak_kib') for r in allrows]))}) | "
                   f"{what.get(key, 'start to ready')}: {_f(_med(ready), '{:.2f} s')} ({_f(lo)}–{_f(hi)}) |")
    if fp:
        n = fp[0]["processes"]
        med = lambda k: _med([r.get(k) for r in fp])
        span = lambda k, fmt="{:.2f}": "({}–{})".format(*(_f(v, fmt) for v in _span([r.get(k) for r in fp])))
        mib_span = lambda k: "({}–{})".format(*(_mib(v) for v in _span([r.get(k) for r in fp])))
        out.append(f"| `sonde run` (daemon, defaults: breakdown on), {n} traced processes | {_mib(med('rss_idle_kib'))} | "
                   f"{_mib(med('rss_load_kib'))} ({_mib(med('rss_peak_kib'))}) | start to ready: "
                   f"{_f(med('ready_s'), '{:.2f} s')} {span('ready_s')} |")
    else:
        out.append("| `sonde run` (daemon), 10 traced processes | not measured in this run | | |")
    out.append("")
    if not fp:
        return out

    rounds = len(fp)
    counted, sent = sum(r.get("sonde_requests", 0) for r in fp), sum(r["requests"] for r in fp)
    progs = {}
    for r in fp:
        for name, v in (r.get("bpf") or {}).items():
            progs.setdefault(name, []).append((v["run_time_ns"], v["run_cnt"], r["requests"]))
    by_prog = ", ".join(f"{name} {_med([c / q for _, c, q in v]):.2f}" for name, v in sorted(progs.items())
                        if _med([c / q for _, c, q in v]) >= 0.01)
    rss_idle = med("rss_idle_kib")
    ready = med("ready_s")
    verdict = lambda ok: "met" if ok else "**missed**"
    out += [
        f"### `sonde run` tracing {n} processes",
        "",
        f"{n} instances of the net/http hello-world server (`tests/goservers/nethttp`), each on its own port, all "
        f"pinned to CPU 0, started once. Each round starts `sonde run --config FILE` with one configuration whose "
        f"target names the {n} pids (`{{\"pids\": [...], \"service\": \"bench\"}}`, a metrics port of its own, "
        f"everything else the packaged defaults: end probes `auto`, the breakdown on). *Ready*: its \"ready:\" log "
        f"line, written when `/metrics` listens and all {n} are attached (when it sends READY=1 under systemd); the "
        f"harness then polls `/metrics` until `sonde_targets {n}`. *Idle*: `VmRSS` {fp_params['idle_s']} s after "
        f"ready, no traffic (after one scrape of `/metrics`). *Under load*: one `wrk -t1 -c{fp_params['connections']}` "
        f"per server, the {n} at once, all on CPU 1, for {fp_params['load_s']} s; `VmRSS` at the end, peak `VmHWM`. "
        f"Stopped with SIGTERM (exit status 0). Median of {rounds} round{'s' if rounds != 1 else ''} (min–max).",
        "",
        "| measure | median (min–max) |",
        "|---|---:|",
        f"| time to ready: start to the \"ready:\" line | {_f(ready, '{:.2f} s')} {span('ready_s')} |",
        f"| time to `/metrics` showing `sonde_targets {n}` | {_f(med('metrics_ready_s'), '{:.2f} s')} {span('metrics_ready_s')} |",
        f"| probes attached (`sonde_probes_attached`; the {n} share one executable, whose uprobes are attached once) | "
        f"{_f(med('probes_attached'), '{:.0f}')} |",
        f"| RSS at the \"ready:\" line, before the first scrape of `/metrics` | {_mib(med('rss_ready_kib'))} {mib_span('rss_ready_kib')} |",
        f"| RSS idle | {_mib(rss_idle)} {mib_span('rss_idle_kib')} |",
        f"| RSS under load, end of the window | {_mib(med('rss_load_kib'))} {mib_span('rss_load_kib')} |",
        f"| RSS peak (`VmHWM`) | {_mib(med('rss_peak_kib'))} {mib_span('rss_peak_kib')} |",
        f"| load: requests/s, all {n} servers | {_f(med('rps'), '{:,.0f}')} {span('rps', '{:,.0f}')} |",
        f"| requests counted on `/metrics` / completed by wrk (all rounds; sonde also counts the requests wrk "
        f"left in flight when it stopped, up to {n * fp_params['connections']} a round) | {counted:,.0f} / {sent:,} |",
        f"| daemon CPU per request; share of a core | {_us(med('tracer_cpu_us_per_req'))}; {_pct(med('tracer_cpu_share'))} |",
        f"| BPF run time per request | {_f(med('bpf_ns_per_req'), '{:.0f} ns')} {span('bpf_ns_per_req', '{:.0f}')} |",
        f"| BPF program runs per request | {_f(med('hits_per_req'))} ({by_prog or '–'}) |",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| RSS ≤ 80 MB idle ({n} traced processes) | {_mib(rss_idle)}"
        f"{'' if rss_idle is None else f' ({rss_idle * 1024 / 1e6:.0f} MB)'}; under load {_mib(med('rss_load_kib'))}, "
        f"peak {_mib(med('rss_peak_kib'))} | {verdict(rss_idle is not None and rss_idle * 1024 <= TARGET_DAEMON_RSS)} |",
        f"| ready ≤ 1 s after start | {_f(ready, '{:.2f} s')} (max {_f(_span([r.get('ready_s') for r in fp])[1], '{:.2f} s')}) | "
        f"{verdict(ready is not None and ready <= TARGET_DAEMON_READY)} |",
        "",
    ]
    return out


# ---------------------------------------------------------------- Go versions

def _when(notes, only):
    """When a section was measured, and whether alone (`bench.py --only ...`)."""
    if not notes:
        return ""
    return (f" Measured on {notes['date']}" + ("" if notes.get("with_the_rest") else
            f" with `bench.py --only {only}`, after the rest of this report") +
            f"; load average {notes['load_start']} at its start, {notes['load_end']} at its end.")


def _goversions_section(results, notes, params):
    """One row per Go version: the same hello server, untraced and traced, ratios within a round."""
    by = {}
    for r in results:
        by.setdefault(r["go"], {}).setdefault(r["round"], {})[r["variant"]] = r

    def per_round(go, key, f):
        return _med([f(rs[key], rs["untraced"]) for rs in by[go].values() if key in rs and "untraced" in rs])

    def stat(go, key, f):
        return _med([f(rs[key]) for rs in by[go].values() if key in rs])

    def planned(go, key):
        r = next((rs[key] for rs in by[go].values() if key in rs and "uprobes" in rs[key]), None)
        return "–" if r is None else f"{r['uprobes']} ({r['uprobes_stepped']} single-stepped)"

    rounds = params.get("rounds")
    when = _when(notes, "goversions")
    out = [
        "## Cost per request by Go version",
        "",
        "The stripped net/http hello server built by each Go toolchain of the matrix (Debian's), pinned to CPU 0, "
        f"saturated by wrk on CPU 1; untraced, then `sonde trace --breakdown off` and `sonde trace` (breakdown on), "
        f"interleaved, {rounds} rounds, medians of per-round values.{when} "
        "Planned uprobes are what the attach line reports; the single-stepped ones are RETs of tail calls that "
        "HTTP/1 requests never reach (`(*serverHandler).ServeHTTP`, `initALPNRequest.ServeHTTP`, from Go 1.24 "
        "`unencryptedHTTP2Request.ServeHTTP`, from Go 1.27 `(*http3ServerHandler).ServeHTTP`), so they cost "
        "these requests nothing; the probe hits per request say what was paid.",
        "",
        "| Go | uprobes planned (off / on) | throughput ÷ untraced (off / on) | server CPU added per request (off / on) "
        "| tracer CPU + BPF per request (off / on) | probe hits per request (off / on) |",
        "|---|---|--:|--:|--:|--:|",
    ]
    order = sorted(by, key=lambda g: [int(x) for x in g[2:].split(".")])
    for go in order:
        cells = []
        cells.append(f"{planned(go, 'trace')} / {planned(go, 'trace-breakdown')}")
        cells.append(" / ".join(_f(per_round(go, k, lambda t, u: t["rps"] / u["rps"]), "{:.2f}×") for k in ("trace", "trace-breakdown")))
        cells.append(" / ".join(_us(per_round(go, k, lambda t, u: t["server_cpu_us_per_req"] - u["server_cpu_us_per_req"]))
                                for k in ("trace", "trace-breakdown")))
        cells.append(" / ".join(_us(stat(go, k, lambda t: t["tracer_cpu_us_per_req"] + t["bpf_ns_per_req"] / 1000))
                                for k in ("trace", "trace-breakdown")))
        cells.append(" / ".join(_f(stat(go, k, lambda t: t["hits_per_req"])) for k in ("trace", "trace-breakdown")))
        out.append(f"| {go} | " + " | ".join(cells) + " |")
    out.append("")
    return out


# ---------------------------------------------------------------- routers

def _routers_section(results, notes, params):
    """One row per router: its server asked for /users/42, untraced and traced (breakdown off)."""
    by, how, order = {}, {}, []
    for r in results:
        if r["router"] not in by:
            order.append(r["router"])
        by.setdefault(r["router"], {}).setdefault(r["round"], {})[r["variant"]] = r
        how[r["router"]] = r.get("how", "")

    def per_round(name, f):
        return _med([f(rs["trace"], rs["untraced"]) for rs in by[name].values() if "trace" in rs and "untraced" in rs])

    def stat(name, f):
        return _med([f(rs["trace"]) for rs in by[name].values() if "trace" in rs])

    when = _when(notes, "routers")
    out = [
        "## Cost per request by router",
        "",
        "Each router's test server (tests/goservers, on Debian's router packages), built stripped by the newest Go of "
        "the matrix, pinned to CPU 0 and saturated by wrk on CPU 1 asking for `/users/42` (a route with a parameter); "
        f"untraced, then `sonde trace --breakdown off`, interleaved, {params.get('rounds')} rounds, medians of "
        f"per-round values.{when} Probe hits per request are the BPF programs' runs divided by the requests: "
        "start and end, plus one for a router whose route is read by a probe.",
        "",
        "| router | how Sonde reads the route | uprobes planned | probe hits per request | throughput ÷ untraced "
        "| server CPU added per request | tracer CPU + BPF per request |",
        "|---|---|---|--:|--:|--:|--:|",
    ]
    for name in order:
        r = next((rs["trace"] for rs in by[name].values() if "trace" in rs and "uprobes" in rs["trace"]), None)
        planned = "–" if r is None else f"{r['uprobes']} ({r['uprobes_stepped']} single-stepped)"
        out.append(f"| {name} | {how[name]} | {planned} | {_f(stat(name, lambda t: t['hits_per_req']))} | "
                   f"{_f(per_round(name, lambda t, u: t['rps'] / u['rps']), '{:.2f}×')} | "
                   f"{_us(per_round(name, lambda t, u: t['server_cpu_us_per_req'] - u['server_cpu_us_per_req']))} | "
                   f"{_us(stat(name, lambda t: t['tracer_cpu_us_per_req'] + t['bpf_ns_per_req'] / 1000))} |")
    out.append("")
    return out


def write(path, plot_path, machine, params, rb_results, oh_results, servers, variants, skipped, notes, work_dir,
          fp_results=None, gv_results=None, gv_notes=None, rt_results=None, rt_notes=None):
    rb = ringbuf_summary(rb_results) if rb_results else None
    oh = overhead_summary(oh_results, variants) if oh_results else {}
    rel_plot = os.path.relpath(plot_path, os.path.dirname(os.path.abspath(path)))
    v = machine["versions"]
    lines = [
        "# Sonde benchmarks",
        "",
        f"Written by `make bench` ({'smoke mode: one round, small sizes — not for comparison' if params['smoke'] else 'the full run'}) "
        f"on {machine['date']}, commit {machine['commit']}. Every number below comes from this one run; "
        "the variants were run side by side, interleaved, and are compared as ratios within a round. "
        "Absolute times on a shared 2-core VM are noisy: compare ratios, and never gate CI on these numbers.",
        "",
        f"**Machine:** {machine['cpu']}, {machine['cpus']} CPUs{' (virtual machine)' if machine['virtual'] else ''}, "
        f"{machine['memory_gib']} GiB; {machine['os']}; kernel {machine['kernel']} ({machine['kernel_build']}).  ",
        "**Versions:** " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".  ",
        f"**Sonde build:** {machine.get('sonde_build', 'out/sonde')}.  ",
        f"**Load:** load average {notes['load_start']} at the start, {notes['load_end']} at the end; other processes "
        f"on the machine used a median {_pct(notes['other_load'])} of its CPU during the measured windows "
        f"(max {_pct(notes['other_load_max'])}).  ",
        f"**Runtime:** {notes['runtime']}.",
        "",
    ]
    if oh:
        lines += [f"![Throughput with tracing, relative to untraced]({rel_plot})", ""]
    if rb:
        lines += _ringbuf_section(rb, params["ringbuf"])
    if oh:
        lines += _overhead_section(oh, servers, variants, params["overhead"], params["rounds"])
        lines += _cost_section(oh, servers, variants)
        lines += _overhead_targets(oh, servers)
    if oh or fp_results:
        lines += _footprint_section(oh, variants, fp_results or [], params.get("footprint"), params["overhead"])
    if gv_results:
        lines += _goversions_section(gv_results, gv_notes, params.get("goversions", {}))
    if rt_results:
        lines += _routers_section(rt_results, rt_notes, params.get("routers", {}))
    # `make bench-protocols` (tests/bench/protocols.py) writes its own section, kept across runs.
    # So does `make bench-bystander` (tests/bench/bystander.py).
    for kept in ("protocols.md", "bystander.md", "realistic.md", "calls.md", "boundary.md"):
        section = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", kept)
        if os.path.exists(section):
            with open(section) as f:
                lines += f.read().rstrip("\n").split("\n") + [""]
    if skipped:
        lines += ["## Variants not in this build", ""]
        lines += [f"- {label}: {why}; the harness adds the row when it is." for label, why in skipped.items()]
        lines.append("")
    lines += ["Raw results: `tests/bench/results.json` (the smoke mode writes under `out/bench-smoke/`).", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    if oh:
        _plot(plot_path, oh, servers, variants, params["rounds"], work_dir)


def _plot(path, summary, servers, variants, rounds, work_dir):
    """Two panels: throughput ÷ untraced, and requests per server CPU-second ÷ untraced."""
    names = {"trace": "sonde trace\\n--breakdown off", "trace-ret": "sonde trace\\n--end-probe ret", "bpftrace": "bpftrace\\n(peer)",
             "trace-breakdown": "sonde trace\\n(breakdown on)", "run": "sonde run\\n(daemon)"}
    panels = []
    # Two-line tick labels ~120 px wide: room for each cluster of bars in both panels.
    clusters = sum(1 for key, _, _ in variants if key != "untraced")
    width = max(1100, 2 * (130 * clusters + 120))
    for metric in ("ratio", "ratio_cpu"):
        data = os.path.join(work_dir, f"overhead-{metric}.dat")
        with open(data, "w") as f:
            for key, label, _ in variants:
                if key == "untraced":
                    continue
                cols = []
                for name, _ in servers:
                    d = summary.get((name, key))
                    values = d[metric] if d else []
                    lo, hi = _span(values)
                    cols += [f"{_med(values):.4f}", f"{lo:.4f}", f"{hi:.4f}"] if values else ["0", "0", "0"]
                f.write('"' + names.get(key, label) + '" ' + " ".join(cols) + "\n")
        n = len(servers)
        plots = []
        for i, (name, _) in enumerate(servers):
            c = 2 + 3 * i
            plots.append(f'"{data}" using {c}:{c + 1}:{c + 2}' + (":xtic(1)" if i == 0 else "") + f' title "{name}"')
            # Histogram boxes of cluster x sit at x + (i - (n-1)/2) / (n + gap).
            off = (i - (n - 1) / 2) / (n + 1.5)
            plots.append(f'"{data}" using ($0{off:+.3f}):(0.04):(sprintf("%.2f", ${c})) with labels notitle font ",10" tc rgb "white"')
        panels.append(", ".join(plots))
    script = f"""
set terminal svg size {width},500 dynamic font "sans,12" background rgb "white"
set output "{path}"
set multiplot layout 1,2 title "Go hello world (1 core) saturated by wrk, with tracing, relative to untraced in the same round: median of {rounds} rounds, bars min to max" noenhanced
set yrange [0:1.4]
set ytics 0.1
set grid ytics
set bmargin 5
set style data histogram
set style histogram errorbars gap 1.5 lw 1.2
set style fill solid 0.75 border -1
set key top right noenhanced
set xtics noenhanced
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "gray40"
set title "throughput (requests/s)" noenhanced
plot {panels[0]}
set title "requests per server CPU-second" noenhanced
plot {panels[1]}
unset multiplot
"""
    p = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(path):
        raise BenchError("gnuplot failed: " + p.stderr[-2000:])
