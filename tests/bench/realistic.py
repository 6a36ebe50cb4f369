#!/usr/bin/env python3
"""
What Sonde costs a realistic service (`make bench-realistic`), not hello-world.

The service: tests/goservers/realistic (Go 1.27, stripped) on CPU 0. Each
GET /orders/{id} spends ~200 us of CPU, reads the order from a real Redis
(redis-server from Debian, on CPU 1, over a pooled loopback connection) and
answers it as JSON. wrk on CPU 1:
  - at saturation: 16 connections as fast as they go, requests/s;
  - at ~70% of the untraced saturation: connections that each wait 5-15 ms
    (at random) between requests (wrk's delay()), p50 and p99 latency. The rate this
    reaches is measured and printed; it is close to 70%, not exactly it.
Each variant: untraced, `sonde trace --breakdown off`, `sonde trace` (the
breakdown on), attached to the running server (out/package/sonde, what users
install). Rounds alternate the order. Ratios to untraced are taken within a
round (the VM's speed drifts between rounds) and their median reported with
min-max; the server's CPU time per saturated request (utime + stime, /proc)
gives the steadier per-server-CPU-second ratio. With kernel.bpf_stats_enabled=1,
the BPF run time per request; probe and scheduler hits per request from
sonde trace's last line.

Prints a Markdown section and puts it into BENCHMARKS.md (and
tests/bench/realistic.md, which `make bench` keeps); with --smoke (make
bench-smoke), one short round, printed only. Standard library only.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.procfs import cpu_seconds  # noqa: E402
from harness.sections import REPO, REPORT_LUA, SMOKE, SONDE, free_port, put_section, rounds, seconds, start_on, within_rounds  # noqa: E402

SERVER = os.path.join(REPO, "out", "goservers", "go1.27", "realistic-stripped")
ROUNDS = rounds(5)
SECONDS = seconds(8)
SECTION = "## A realistic service"
DELAY_MS = 10           # each paced connection's wait between requests
SATURATING = 16         # wrk's connections at saturation
GOALS = {"throughput": 0.98, "p99_added": 0.02}   # breakdown on, the goal


def wrk(port, connections, script, seconds=SECONDS):
    return wrk_url(f"http://127.0.0.1:{port}/orders/42", connections, script, seconds)


def wrk_url(url, connections, script, seconds):
    """wrk on CPU 1 against url: wrk_report.lua's figures, and requests/s."""
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script,
                          url], capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"SONDE_BENCH (\{.*\})", out.stdout)
    if not m:
        raise RuntimeError("wrk: " + out.stdout[-300:] + out.stderr[-300:])
    r = json.loads(m[1])
    if r["non2xx"] or r["socket_errors"]:
        raise RuntimeError(f"wrk: {r['non2xx']} non-2xx answers, {r['socket_errors']} socket errors")
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def bpf_progs(pid):
    """{prog_id: (run_time_ns, run_cnt)} of the BPF programs the process holds."""
    progs = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "bpf-prog" not in os.readlink(f"/proc/{pid}/fd/{fd}"):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
        except OSError:
            continue
        progs[int(info["prog_id"])] = (int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0)))
    return progs


def bpf_ns_per(p0, p1, requests):
    """BPF run time between two bpf_progs() reads, per request."""
    return sum(p1[i][0] - p0.get(i, (0, 0))[0] for i in p1) / requests


def attach(pid, breakdown):
    return attach_args(pid, ["--breakdown", breakdown])


def attach_args(pid, args):
    """sonde trace (out/package/sonde, on CPU 1) of pid with args, once its probes are attached."""
    p = subprocess.Popen(["taskset", "-c", "1", SONDE, "trace", "--pid", str(pid), *args, "--no-summary"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            raise RuntimeError("sonde trace exited: " + "".join(lines)[-500:])
        lines.append(line)
        if "probes attached" in line:
            return p
    raise RuntimeError("sonde trace did not attach: " + "".join(lines)[-500:])


def detach(p):
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    last = [l for l in err.splitlines() if "detached" in l]
    if p.returncode != 0 or not last:
        raise RuntimeError(f"sonde trace exited {p.returncode}: {err[-500:]}")
    m = re.search(r"([\d.]+) probe hits per request(?: and ([\d.]+) scheduler hits \(([\d.]+) on request goroutines\))?; lost: (.*)$", last[-1])
    if not m:
        raise RuntimeError("sonde trace's last line: " + last[-1])
    # The one loss that is not Sonde's: requests the server was still serving when
    # it attached (wrk's last ones, read from the server's sockets after wrk exited),
    # whose ends it saw and starts it did not; at most one per saturating connection.
    unmatched = re.fullmatch(r"(\d+) unmatched ends? \(begun before attaching\)", m[4])
    if m[4] != "none" and not (unmatched and int(unmatched[1]) <= SATURATING):
        raise RuntimeError("sonde trace's last line: " + last[-1])
    return float(m[1]), float(m[2] or 0), float(m[3] or 0), int(unmatched[1]) if unmatched else 0


def run(workdir):
    pacing = os.path.join(workdir, "paced.lua")
    with open(REPORT_LUA) as f, open(pacing, "w") as out:
        # Uniform in [DELAY_MS/2, 3*DELAY_MS/2]: connections that waited the same time would fire together.
        out.write(f.read() + f"\ndelay = function() return math.random({DELAY_MS // 2}, {3 * DELAY_MS // 2}) end\n")
    redis_port, port = free_port(), free_port()
    redis = start_on(1, ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                         "--save", "", "--appendonly", "no", "--dir", workdir], redis_port)
    srv = start_on(0, [SERVER, "-addr", f"127.0.0.1:{port}", "-redis", f"127.0.0.1:{redis_port}"], port)
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=True)
    modes = ["untraced", "off", "on"]
    results = {m: [] for m in modes}
    try:
        wrk(port, SATURATING, REPORT_LUA, seconds=3)   # warm up: calibration, Redis connections, the page cache
        saturated = wrk(port, SATURATING, REPORT_LUA)["rps"]
        # Connections for ~70% of it: each does one request per (delay + its latency), and
        # the latency grows with the load, so the first guess is corrected once by what it reached.
        paced = max(1, round(0.7 * saturated * DELAY_MS / 1000))
        reached = wrk(port, paced, pacing, seconds=3)["rps"]
        paced = max(1, round(paced * 0.7 * saturated / reached))
        for r in range(ROUNDS):
            for mode in (modes if r % 2 == 0 else list(reversed(modes))):
                tracer = None if mode == "untraced" else attach(srv.pid, mode)
                p0 = bpf_progs(tracer.pid) if tracer else {}
                cpu0 = cpu_seconds(srv.pid)
                sat = wrk(port, SATURATING, REPORT_LUA)
                cpu_us = (cpu_seconds(srv.pid) - cpu0) * 1e6 / sat["requests"]
                load = wrk(port, paced, pacing)
                row = {"rps": sat["rps"], "p99_sat_us": sat["p99_us"], "cpu_us": cpu_us, "paced_rps": load["rps"],
                       "p50_us": load["p50_us"], "p99_us": load["p99_us"]}
                if tracer:
                    p1 = bpf_progs(tracer.pid)
                    requests = sat["requests"] + load["requests"]
                    row["bpf_ns"] = bpf_ns_per(p0, p1, requests)
                    row["hits"], row["sched"], row["sched_req"], row["unmatched"] = detach(tracer)
                results[mode].append(row)
                time.sleep(0.5)   # the server finishes what wrk left in its sockets before the next variant attaches
    finally:
        subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=0"])
        for p in (srv, redis):
            p.terminate()
            p.wait(15)
    return saturated, paced, results


def ratio_rps(r, u):
    return r["rps"] / u["rps"]


def ratio_cpu(r, u):
    """Requests per server CPU-second, ÷ untraced's."""
    return u["cpu_us"] / r["cpu_us"]


def p99_added(r, u):
    return (r["p99_us"] - u["p99_us"]) / u["p99_us"]


def cpu_added(r, u):
    """Server CPU per saturated request, µs, minus untraced's."""
    return r["cpu_us"] - u["cpu_us"]


def table(saturated, paced, results):
    med = {m: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for m, rows in results.items()}
    base = med["untraced"]
    per = {m: {k: within_rounds(results[m], results["untraced"], f) for k, f in
               (("rps", ratio_rps), ("cpu", ratio_cpu), ("p99", p99_added), ("cpu_added", cpu_added))}
           for m in ("off", "on")}
    names = {"untraced": "untraced", "off": "`sonde trace --breakdown off`", "on": "`sonde trace` (breakdown on)"}
    lines = [
        SECTION, "",
        f"Written by `make bench-realistic` (tests/bench/realistic.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"commit {subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}. "
        "A handler that does what services do: ~200 µs of CPU, a Redis GET over a pooled loopback connection (a real "
        "redis-server) and a JSON answer (tests/goservers/realistic, Go 1.27, stripped, on CPU 0; Redis and wrk on CPU 1). "
        f"Saturated: 16 connections, {SECONDS} s. At ~70%: {paced} connections that each wait {DELAY_MS // 2}–{3 * DELAY_MS // 2} ms (at random) between requests, "
        f"as many as reach 70% of the untraced saturation measured before the rounds ({saturated:,.0f} requests/s). {ROUNDS} rounds in alternating "
        "order; medians; ratios and p99 added are taken within each round and their median given (min–max). Server CPU per request: "
        "the server's utime + stime over the saturated run ÷ its requests; its ratio (requests per server CPU-second ÷ untraced) "
        "discounts time other processes took from the server's core. BPF time from the kernel's run-time statistics over both runs of a round; hits per request from "
        "sonde trace's last line (scheduler hits: the breakdown's Go scheduler probes, for all goroutines, and those that "
        "moved a request's state).", "",
        "| | saturated: requests/s | ÷ untraced (min–max) | server CPU per request | per server CPU-second ÷ untraced (min–max) | at ~70%: requests/s | p50 | p99 | p99 added (min–max) | BPF per request | probe hits per request | scheduler hits per request (on requests) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in ("untraced", "off", "on"):
        r = med[m]
        added = bpf = hits = sched = ""
        ratio, cpu_ratio = "1", "1"
        if m != "untraced":
            a, t, c = per[m]["p99"], per[m]["rps"], per[m]["cpu"]
            added = f"{a[0] * 100:+.1f} % ({a[1] * 100:+.1f} to {a[2] * 100:+.1f})"
            ratio = f"{t[0]:.3f}× ({t[1]:.3f}–{t[2]:.3f})"
            cpu_ratio = f"{c[0]:.3f}× ({c[1]:.3f}–{c[2]:.3f})"
            bpf = f"{r['bpf_ns'] / 1000:.1f} µs"
            hits = f"{r['hits']:.2f}"
        if m == "on":
            sched = f"{r['sched']:.2f} ({r['sched_req']:.2f})"
        lines.append(f"| {names[m]} | {r['rps']:,.0f} | {ratio} | {r['cpu_us']:.0f} µs | {cpu_ratio} | {r['paced_rps']:,.0f} | "
                     f"{r['p50_us'] / 1000:.2f} ms | {r['p99_us'] / 1000:.2f} ms | {added} | {bpf} | {hits} | {sched} |")
    lines.append("")
    for m in ("off", "on"):
        d = per[m]["cpu_added"]
        lines.append(f"- {names[m]} added {d[0]:.1f} µs of server CPU per saturated request ({d[1]:.1f} to {d[2]:.1f} µs over the rounds), "
                     f"{d[0] / base['cpu_us'] * 100:.1f} % of the {base['cpu_us']:.0f} µs a request costs untraced.")
    for m in ("off", "on"):
        if n := sum(r["unmatched"] for r in results[m]):
            lines.append(f"\n{names[m]} saw the ends of {n} requests begun before it attached (over all rounds), and nothing else lost.")
    ratio, added = per["on"]["rps"][0], per["on"]["p99"][0]
    lines += [
        "",
        "| goal (breakdown on) | measured | |",
        "|---|--:|---|",
        f"| throughput ≥ {GOALS['throughput']:.2f}× untraced at saturation | {ratio:.3f}× | {'met' if ratio >= GOALS['throughput'] else '**missed**'} |",
        f"| p99 added ≤ {GOALS['p99_added'] * 100:.0f} % at ~70% load | {added * 100:+.1f} % | {'met' if added <= GOALS['p99_added'] else '**missed**'} |",
        "",
    ]
    return lines


def main():
    for path, what in ((SERVER, "make goservers"), (SONDE, "make out/package/sonde")):
        if not os.path.exists(path):
            sys.exit(f"realistic.py: {path} is missing ({what})")
    with tempfile.TemporaryDirectory(prefix="sonde-realistic-") as workdir:
        saturated, paced, results = run(workdir)
    lines = table(saturated, paced, results)
    print("\n".join(lines))
    if not SMOKE:
        put_section(REPO, SECTION, lines, "realistic.md")


if __name__ == "__main__":
    main()
