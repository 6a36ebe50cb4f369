#!/usr/bin/env python3
"""
What a request costs Sonde by protocol (`make bench-protocols`): HTTP/1.1,
HTTP/2 over TLS and h2c (net/http), and gRPC (grpc-go 1.33, 1.64, 1.81), each
server built stripped by Go 1.27 (and Go 1.19 for HTTP/2 over TLS, whose end
is a single-stepped RET). The server runs on CPU 0, the client
(tests/bench/h2load) on CPU 1, one request at a time on one connection, so
the difference in mean round trip, traced minus untraced, is what Sonde adds
to a request. `sonde trace --breakdown off` traces; its last line gives the
probe hits per request. Rounds alternate the order. Prints a Markdown table.
Standard library only.
"""
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.sections import REPO, SONDE, free_port, put_section, rounds, wait_port  # noqa: E402

GO = os.path.join(REPO, "out", "goservers")
CLIENT = os.path.join(REPO, "out", "bench", "h2load", "h2load")
N = int(os.environ.get("SONDE_BENCH_REQUESTS", "4000"))
ROUNDS = rounds(3)

# (label, server, server flags, client mode, path)
CASES = [
    ("HTTP/1.1, net/http, Go 1.27", "go1.27/nethttp-stripped", [], "h1", "/hello"),
    ("HTTP/2 over TLS, net/http, Go 1.27", "go1.27/nethttp-stripped", ["-tls"], "h2", "/hello"),
    ("HTTP/2 over TLS, net/http, Go 1.19", "nethttp-stripped", ["-tls"], "h2", "/hello"),
    ("h2c, net/http, Go 1.27", "go1.27/nethttp-stripped", ["-h2c"], "h2c", "/hello"),
    ("gRPC, grpc-go 1.33, Go 1.27", "go1.27/grpc-stripped", [], "grpc", None),
    ("gRPC, grpc-go 1.64, Go 1.27", "go1.27/grpc-trixie-stripped", [], "grpc", None),
    ("gRPC, grpc-go 1.81, Go 1.27", "go1.27/grpc-sid-stripped", [], "grpc", None),
]






def client(mode, port, path):
    target = str(port) if mode == "grpc" else f"{'https' if mode == 'h2' else 'http'}://127.0.0.1:{port}{path}"
    out = subprocess.run(["taskset", "-c", "1", CLIENT, mode, target, str(N)], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"h2load {mode}: {out.stderr.strip()[-500:]}")
    return float(out.stdout.split()[0])


def measure(case, traced):
    label, server, flags, mode, path = case
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", "0", os.path.join(GO, server), "-addr", f"127.0.0.1:{port}", *flags],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tracer = None
    try:
        wait_port(port, srv)
        hits = None
        if traced:
            tracer = subprocess.Popen([SONDE, "trace", "--pid", str(srv.pid), "--breakdown", "off", "--json", "/dev/null"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            lines = []
            for line in tracer.stderr:
                lines.append(line)
                if "probes attached" in line:
                    break
            else:
                raise RuntimeError("sonde trace did not attach: " + "".join(lines[-5:]))
        us = client(mode, port, path)
        if tracer:
            tracer.send_signal(2)
            rest = tracer.communicate(timeout=60)[1]
            m = re.search(r"([\d.]+) probe hits per request", rest)
            hits = float(m[1]) if m else None
        return us, hits
    finally:
        if tracer and tracer.poll() is None:
            tracer.kill()
        srv.terminate()
        srv.wait(15)


SECTION = "## Cost per request by protocol"


def main():
    for p in (SONDE, CLIENT):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: run `make bench-protocols`")
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [SECTION, "",
             f"Written by `make bench-protocols` (tests/bench/protocols.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"commit {head}. Each server (stripped, Go 1.27 unless named) on CPU 0; our client (tests/bench/h2load) on CPU 1 "
             f"sends {N} requests one at a time on one connection, untraced and traced by `sonde trace --breakdown off` "
             f"(`out/package/sonde`), {ROUNDS} rounds in alternating order; medians. The difference in mean round trip is "
             "what Sonde adds to one request; its noise here is about ±20 µs (a difference below that is none). "
             "Probe hits per request are from `sonde trace`'s last line.", "",
             "| protocol | round trip untraced | traced | Sonde adds per request | probe hits per request |",
             "|---|--:|--:|--:|--:|"]
    print("\n".join(lines), flush=True)
    for case in CASES:
        plain, traced, hits = [], [], []
        for r in range(ROUNDS):
            for t in ((False, True) if r % 2 == 0 else (True, False)):
                us, h = measure(case, t)
                (traced if t else plain).append(us)
                if h is not None:
                    hits.append(h)
        a, b = statistics.median(plain), statistics.median(traced)
        row = f"| {case[0]} | {a:.1f} µs | {b:.1f} µs | {b - a:+.1f} µs | {statistics.median(hits) if hits else float('nan'):.2f} |"
        lines.append(row)
        print(row, flush=True)
    lines.append("")
    put_section(REPO, SECTION, lines, "protocols.md")


if __name__ == "__main__":
    main()
