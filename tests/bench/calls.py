#!/usr/bin/env python3
"""
What following outgoing HTTP calls costs a request (`make bench-calls`).

The service: tests/goservers/peers (Go 1.27, stripped) on CPU 0. Each
GET /call?ms=0&n=1 makes one call with net/http's client to another peers
server (untraced, on CPU 1: its /delay?ms=0) over a kept-alive connection,
and answers the call's timings. wrk on CPU 1, saturating it with 8
connections. Variants: untraced, `sonde trace` (the breakdown on, with its
network waits by peer; --calls off, the default) and `sonde trace --calls on`,
attached to the running server (out/package/sonde, what users install).
Rounds alternate the order; medians. With kernel.bpf_stats_enabled=1, the
BPF run time per request; probe hits per request from sonde trace's last
line. A second part makes every call on a fresh connection (close=1: a
dial, with DNS-free connect, per call) to show a new connection's extra probes.

Prints a Markdown section and puts it into BENCHMARKS.md (and
tests/bench/calls.md, which `make bench` keeps); with --smoke, one short
round, printed only. Standard library only.
"""
import os
import re
import signal
import subprocess
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.sections import REPO, REPORT_LUA, SMOKE, SONDE, free_port, put_section, rounds, seconds, start_on  # noqa: E402
from realistic import attach_args, bpf_ns_per, bpf_progs, wrk_url  # noqa: E402

SERVER = os.path.join(REPO, "out", "goservers", "go1.27", "peers-stripped")
ROUNDS = rounds(3)
SECONDS = seconds(8)
SECTION = "## Cost of outgoing calls"
MODES = {"untraced": None, "calls off": ["--breakdown", "on", "--calls", "off"], "calls on": ["--breakdown", "on", "--calls", "on"]}


def detach(p):
    """Stops sonde trace: its probe hits per request, and what its last line says was lost."""
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    last = [l for l in err.splitlines() if "detached" in l]
    m = re.search(r"([\d.]+) probe hits per request.*; lost: (.*)$", last[-1]) if last else None
    if p.returncode != 0 or not m:
        raise RuntimeError(f"sonde trace exited {p.returncode}: {err[-500:]}")
    return float(m[1]), m[2]


def run():
    up_port, port = free_port(), free_port()
    upstream = start_on(1, [SERVER, "-addr", f"127.0.0.1:{up_port}"], up_port)
    srv = start_on(0, [SERVER, "-addr", f"127.0.0.1:{port}", "-upstream", f"http://127.0.0.1:{up_port}"], port)
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=True)
    parts = {"kept-alive": "/call?ms=0&n=1", "fresh": "/call?ms=0&n=1&close=1"}
    results = {(p, m): [] for p in parts for m in MODES}
    losses = {}
    try:
        for path in parts.values():
            wrk_url(f"http://127.0.0.1:{port}{path}", 8, REPORT_LUA, seconds=2)   # warm up
        for r in range(ROUNDS):
            for part, path in parts.items():
                order = list(MODES) if r % 2 == 0 else list(reversed(MODES))
                for mode in order:
                    args = MODES[mode]
                    tracer = None if args is None else attach_args(srv.pid, args)
                    p0 = bpf_progs(tracer.pid) if tracer else {}
                    sat = wrk_url(f"http://127.0.0.1:{port}{path}", 8, REPORT_LUA, seconds=SECONDS)
                    row = {"rps": sat["rps"], "p50_us": sat["p50_us"], "p99_us": sat["p99_us"]}
                    if tracer:
                        p1 = bpf_progs(tracer.pid)
                        row["bpf_ns"] = bpf_ns_per(p0, p1, sat["requests"])
                        row["hits"], lost = detach(tracer)
                        if lost != "none":
                            losses.setdefault((part, mode), []).append(lost)
                    results[(part, mode)].append(row)
    finally:
        subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=0"])
        for p in (srv, upstream):
            p.terminate()
            p.wait(15)
    return results, losses


def table(results, losses):
    med = {k: {f: statistics.median(r[f] for r in rows) for f in rows[0]} for k, rows in results.items()}
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [
        SECTION, "",
        f"Written by `make bench-calls` (tests/bench/calls.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}. "
        "A handler that makes one outgoing call per request with net/http's client (tests/goservers/peers, Go 1.27, stripped, "
        "`GET /call?ms=0&n=1`, on CPU 0) to another peers server (untraced; it and wrk on CPU 1), saturated by 8 connections "
        f"for {SECONDS} s; its calls on kept-alive connections (net/http's default pool keeps 2 idle ones per host, so at 8 "
        "calls at once some still dial), then each on a fresh one (`close=1`: a dial per call). "
        f"{ROUNDS} rounds in alternating order; medians. BPF time from the kernel's run-time statistics; probe hits per "
        "request from sonde trace's last line. `calls off` is `sonde trace` as it is by default (the breakdown on, with its "
        "network waits by peer); `calls on` adds `--calls on`.", "",
        "| connection | | requests/s | ÷ untraced | p50 | p99 | BPF per request | probe hits per request |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for part in ("kept-alive", "fresh"):
        base = med[(part, "untraced")]
        for mode in MODES:
            r = med[(part, mode)]
            bpf = f"{r['bpf_ns'] / 1000:.1f} µs" if "bpf_ns" in r else ""
            hits = f"{r['hits']:.2f}" if "hits" in r else ""
            lines.append(f"| {part} | {mode} | {r['rps']:,.0f} | {r['rps'] / base['rps']:.3f}× | {r['p50_us'] / 1000:.2f} ms | "
                         f"{r['p99_us'] / 1000:.2f} ms | {bpf} | {hits} |")
    lines.append("")
    for part in ("kept-alive", "fresh"):
        on, off = med[(part, "calls on")], med[(part, "calls off")]
        lines.append(f"- {part}: `--calls on` added {(on['bpf_ns'] - off['bpf_ns']) / 1000:+.1f} µs of BPF time and "
                     f"{on['hits'] - off['hits']:+.2f} probe hits per request (one call each).")
    for (part, mode), what in sorted(losses.items()):
        lines.append(f"- {part}, {mode}: sonde trace reported lost: {'; '.join(what)}.")
    lines.append("")
    return lines


def main():
    for path, what in ((SERVER, "make goservers"), (SONDE, "make out/package/sonde")):
        if not os.path.exists(path):
            sys.exit(f"calls.py: {path} is missing ({what})")
    lines = table(*run())
    print("\n".join(lines))
    if not SMOKE:
        put_section(REPO, SECTION, lines, "calls.md")


if __name__ == "__main__":
    main()
