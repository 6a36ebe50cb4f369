#!/usr/bin/env python3
"""
Would a trap-free boundary for plaintext HTTP/1 reach the goal? (`make bench-boundary`, issue 15 part 3)

The mode would take a request's start and end from the sys_enter/sys_exit
tracepoints of the connection's reads and writes instead of two uprobes. Its
floor, tests/bench/boundary/floor.bpf.c, does the least such a mode must do
per syscall (filter to the process, keep the buffer, read the goroutine from
TLS and the buffer's head, update the connection's state) and nothing more:
no parsing, no record. If the floor alone costs more than the goal allows,
the mode is not worth building.

The service: tests/goservers/nethttp (Go 1.27, stripped) on CPU 0, `GET
/hello`, saturated by wrk (16 connections) on CPU 1; the tracers on CPU 1.
Variants: untraced, the floor, `sonde trace --breakdown off` (its two
uprobes; out/package/sonde, as installed). Rounds alternate the order;
medians. With kernel.bpf_stats_enabled=1, BPF run time per request; the
server's CPU time per request (utime + stime) too, the steadier measure on a
shared VM.

Prints a Markdown section and puts it into BENCHMARKS.md (and
tests/bench/boundary.md, which `make bench` keeps); with --smoke, one short
round, printed only. Standard library only.
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.sections import REPO, REPORT_LUA, SMOKE, SONDE, free_port, put_section, rounds, seconds, start_on, within_rounds  # noqa: E402
from realistic import attach_args, bpf_ns_per, bpf_progs, detach, wrk_url  # noqa: E402

SERVER = os.path.join(REPO, "out", "goservers", "go1.27", "nethttp-stripped")
FLOOR = os.path.join(REPO, "out", "bench", "boundary", "floor")
FLOOR_OBJ = os.path.join(REPO, "out", "bench", "boundary", "floor.bpf.o")
ROUNDS = rounds(5)
SECONDS = seconds(8)
SECTION = "## A trap-free HTTP/1 boundary: the experiment"
GOAL = 0.95
VARIANTS = ("untraced", "syscall floor", "sonde trace --breakdown off")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_floor(pid):
    p = subprocess.Popen(["taskset", "-c", "1", FLOOR, str(pid), FLOOR_OBJ], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError("floor did not attach: " + line + p.stderr.read()[-500:])
    return p


def stop_floor(p):
    p.terminate()
    out, err = p.communicate(timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"floor exited {p.returncode}: {err[-300:]}")


def run():
    port = free_port()
    srv = start_on(0, [SERVER, "-addr", f"127.0.0.1:{port}"], port)
    url = f"http://127.0.0.1:{port}/hello"
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=True)
    results = {v: [] for v in VARIANTS}
    try:
        wrk_url(url, 16, REPORT_LUA, seconds=2)   # warm up
        for r in range(ROUNDS):
            order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
            for v in order:
                tracer = None
                if v == "syscall floor":
                    tracer = start_floor(srv.pid)
                elif v != "untraced":
                    tracer = attach_args(srv.pid, ["--breakdown", "off"])
                p0 = bpf_progs(tracer.pid) if tracer else {}
                c0 = cpu_s(srv.pid)
                sat = wrk_url(url, 16, REPORT_LUA, seconds=SECONDS)
                row = {"rps": sat["rps"], "cpu_us": (cpu_s(srv.pid) - c0) * 1e6 / sat["requests"]}
                if tracer:
                    row["bpf_ns"] = bpf_ns_per(p0, bpf_progs(tracer.pid), sat["requests"])
                    if v == "syscall floor":
                        stop_floor(tracer)
                    else:
                        detach(tracer)
                results[v].append(row)
    finally:
        subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=0"])
        srv.terminate()
        srv.wait(15)
    return results


def table(results):
    base = results["untraced"]
    ratio = {v: within_rounds(rows, base, lambda r, b: r["rps"] / b["rps"]) for v, rows in results.items()}
    cpu_ratio = {v: within_rounds(rows, base, lambda r, b: b["cpu_us"] / r["cpu_us"])[0] for v, rows in results.items()}
    med = lambda xs: statistics.median(xs)
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [
        SECTION, "",
        f"Written by `make bench-boundary` (tests/bench/boundary.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"commit {commit}. The question: could request start and end come from the `sys_enter`/`sys_exit` tracepoints "
        "of the connection's reads and writes, keyed by the goroutine read from the thread's TLS, instead of two uprobe "
        f"traps, and so reach {GOAL}× untraced throughput with the breakdown off? Before building that mode, its floor "
        "was measured: `tests/bench/boundary/floor.bpf.c` does the least it must do per syscall (filter to the "
        "process, keep the buffer of each read/write, and at the exit of one that moved bytes read the goroutine "
        "from TLS and the buffer's first 16 bytes and update the connection's state in a hash map) and nothing more: "
        "no parsing of the request head or status line, no record. The service: the net/http hello server "
        f"(Go 1.27, stripped) on CPU 0, saturated by wrk (16 connections, {SECONDS} s) on CPU 1, tracers on CPU 1; "
        f"{ROUNDS} rounds in alternating order; medians (min–max). *Per server CPU-second*: requests per second of "
        "the server's own CPU time, which discounts time other processes took from its core.", "",
        "| variant | requests/s | ÷ untraced (min–max) | per server CPU-second ÷ untraced | server CPU per request | BPF per request |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for v in VARIANTS:
        rows = results[v]
        bpf = f"{med([r['bpf_ns'] for r in rows]):.0f} ns" if "bpf_ns" in rows[0] else ""
        lines.append(f"| {v} | {med([r['rps'] for r in rows]):,.0f} | {ratio[v][0]:.3f}× ({ratio[v][1]:.3f}–"
                     f"{ratio[v][2]:.3f}) | {cpu_ratio[v]:.3f}× | {med([r['cpu_us'] for r in rows]):.1f} µs | {bpf} |")
    lines.append("")
    floor, uprobes = cpu_ratio["syscall floor"], cpu_ratio["sonde trace --breakdown off"]
    u = med([r["cpu_us"] for r in base])
    added = med([r["cpu_us"] for r in results["syscall floor"]]) - u
    if floor < GOAL:
        lines.append(f"**Decision: not offered.** The floor alone reaches {floor:.2f}× (per server CPU-second; "
                     f"`sonde trace --breakdown off`: {uprobes:.2f}×) where the goal is {GOAL}×: it adds {added:.1f} µs "
                     f"of server CPU to a {u:.1f} µs request, and {GOAL}× allows {u * (1 / GOAL - 1):.1f} µs. The "
                     "tracepoints run at every syscall the server makes (the reads that find no data and the "
                     "netpoller's `epoll_wait` too, not only the request's read and write), each pays the syscall "
                     "slow path an attached `sys_enter`/`sys_exit` imposes on every task, and the full mode would add "
                     "parsing and a record on top. Sonde keeps its uprobe boundary; `--breakdown off` stays the "
                     "cheapest mode.")
    else:
        lines.append(f"**The floor reaches {floor:.2f}×** (per server CPU-second; `sonde trace --breakdown off`: "
                     f"{uprobes:.2f}×): the goal of {GOAL}× is not ruled out by the floor; the full mode would have "
                     "to be built and held against the ServeHTTP window to decide.")
    lines.append("")
    return lines


def main():
    for path, what in ((SERVER, "make goservers"), (SONDE, "make out/package/sonde"),
                       (FLOOR, "make out/bench/boundary/floor"), (FLOOR_OBJ, "make out/bench/boundary/floor.bpf.o")):
        if not os.path.exists(path):
            sys.exit(f"boundary.py: {path} is missing ({what})")
    lines = table(run())
    print("\n".join(lines))
    if not SMOKE:
        put_section(REPO, SECTION, lines, "boundary.md")


if __name__ == "__main__":
    main()
