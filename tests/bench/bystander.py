#!/usr/bin/env python3
"""
What `sonde run` costs the processes it doesn't trace, and how fast it stops
(`make bench-bystander`).

Bystander: two processes of one Gin server (stripped, Go 1.27). wrk (on CPU 1)
saturates the second, the bystander (on CPU 0), for a few seconds:
  - with no Sonde;
  - with `sonde run` and a `pids` target naming only the first: the first gets
    probes of its own, the bystander none;
  - with an `exe` target for the file, whose process selection is the first
    only (`pids` too narrow for what the user wants to watch is not the point
    here: this row shows what a file-wide probe costs a process of that file
    that no target asked for, had Sonde kept its probes file-wide).
Rounds alternate the order; medians.

Stop: `sonde run` traces 112 executables (copies of one Go server, one process
each, an `exe` glob target) or 112 processes of one file (a `pids` target),
1,008 uprobes either way; the time from SIGTERM to its exit.

Prints a Markdown section and puts it into BENCHMARKS.md (and
tests/bench/bystander.md, which `make bench` keeps). Standard library only.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.sections import REPO, SONDE, free_port, put_section, rounds, seconds, wait_port  # noqa: E402

GO = os.path.join(REPO, "out", "goservers")
ROUNDS = rounds(3)
SECONDS = seconds(5)
SECTION = "## Bystanders and stopping"






def server(binary, cpu=None):
    port = free_port()
    cmd = [binary, "-addr", f"127.0.0.1:{port}"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, p)
    return p, port


def probes(metrics_port):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    except OSError:
        return -1
    m = re.search(r"(?m)^sonde_probes_attached (\d+)$", text)
    return int(m[1]) if m else -1


def sonde_run(targets, want_probes, workdir, breakdown=True):
    metrics_port = free_port()
    config = os.path.join(workdir, "sonde.json")
    with open(config, "w") as f:
        json.dump({"targets": targets, "metrics": {"listen": f"127.0.0.1:{metrics_port}"}, "tracing": {"breakdown": breakdown}}, f)
    # On CPU 1 with wrk, not CPU 0 with the servers: what's measured is what the probes
    # cost the bystander, not the daemon's own threads sharing its CPU.
    p = subprocess.Popen(["taskset", "-c", "1", SONDE, "run", "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while probes(metrics_port) < want_probes:
        if p.poll() is not None:
            raise RuntimeError("sonde run exited: " + p.stderr.read()[-500:])
        if time.monotonic() > deadline:
            raise RuntimeError(f"sonde run attached {probes(metrics_port)} probes, not {want_probes}")
        time.sleep(0.1)
    return p


def stop(p):
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    rc = p.wait(120)
    return time.monotonic() - t0, rc


def wrk(port):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c8", f"-d{SECONDS}s", f"http://127.0.0.1:{port}/users/1"],
                         capture_output=True, text=True, timeout=SECONDS + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError("wrk: " + out.stdout[-300:] + out.stderr[-300:])
    return float(m[1])


def bystander_rows(workdir):
    binary = os.path.join(GO, "go1.27", "gin-stripped") if os.path.exists(os.path.join(GO, "go1.27", "gin-stripped")) else os.path.join(GO, "gin-stripped")
    traced, _ = server(binary, cpu=0)
    other, other_port = server(binary, cpu=0)
    modes = {"none": None,
             "pids": [{"pids": [traced.pid], "service": "one"}],
             "pids-off": [{"pids": [traced.pid], "service": "one"}],
             "exe": [{"exe": binary, "service": "file"}]}
    rps = {m: [] for m in modes}
    try:
        for r in range(ROUNDS):
            order = list(modes) if r % 2 == 0 else list(reversed(modes))
            for mode in order:
                d = None
                if modes[mode]:
                    d = sonde_run(modes[mode], 2 if mode == "pids-off" else 9, workdir, breakdown=mode != "pids-off")
                try:
                    rps[mode].append(wrk(other_port))
                finally:
                    if d:
                        stop(d)
    finally:
        for p in (traced, other):
            p.terminate()
            p.wait(15)
    base = statistics.median(rps["none"])
    return [
        "| bystander (untraced process of the traced file) | requests/s | ÷ without Sonde |",
        "|---|--:|--:|",
        f"| no Sonde | {base:,.0f} | 1.00× |",
        f"| `pids` target naming the other process (probes of its own) | {statistics.median(rps['pids']):,.0f} | {statistics.median(rps['pids']) / base:.2f}× |",
        f"| the same, `tracing.breakdown: false` (no kernel tracepoints) | {statistics.median(rps['pids-off']):,.0f} | {statistics.median(rps['pids-off']) / base:.2f}× |",
        f"| `exe` target for the file (probes for every process of it; this one traced too) | {statistics.median(rps['exe']):,.0f} | {statistics.median(rps['exe']) / base:.2f}× |",
    ]


def stop_rows(workdir):
    src = os.path.join(GO, "nethttp-stripped")
    rows = ["| `sonde run` with | uprobes | SIGTERM to exit | exit code |", "|---|--:|--:|--:|"]
    for layout in ("copies", "pids"):
        procs = []
        d = None
        try:
            for i in range(112):
                path = src
                if layout == "copies":
                    path = os.path.join(workdir, f"srv-{i:03}")
                    shutil.copy2(src, path)
                procs.append(server(path)[0])
            targets = ([{"exe": os.path.join(workdir, "srv-*"), "service": "many"}] if layout == "copies"
                       else [{"pids": [p.pid for p in procs], "service": "many"}])
            d = sonde_run(targets, 1000, workdir)
            n = 112 * 9
            secs, rc = stop(d)
            d = None
            what = "112 executables, one process each (`exe` glob)" if layout == "copies" else "112 processes of one executable (`pids`)"
            rows.append(f"| {what} | {n:,} | {secs:.2f} s | {rc} |")
        finally:
            if d:
                d.kill()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)
            for f in os.listdir(workdir):
                if f.startswith("srv-"):
                    os.remove(os.path.join(workdir, f))
    return rows


def main():
    for p in (SONDE, shutil.which("wrk") or "/usr/bin/wrk"):
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: run `make bench-bystander`")
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    workdir = tempfile.mkdtemp(prefix="sonde-bystander-", dir=os.path.join(REPO, "out"))
    try:
        lines = [SECTION, "",
                 f"Written by `make bench-bystander` (tests/bench/bystander.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                 f"commit {head}, with `out/package/sonde run` (breakdown on). Bystander: two processes of one Gin server "
                 f"(stripped, Go 1.27) on CPU 0; wrk (1 thread, 8 connections, {SECONDS} s) on CPU 1 saturates the one "
                 f"the `pids` target does not name; the daemon runs on CPU 1 too; {ROUNDS} rounds in alternating order, medians.", ""]
        lines += bystander_rows(workdir)
        lines += ["", "Stopping: the time from SIGTERM to the daemon's exit, with multi-uprobe links (one per file or process).", ""]
        lines += stop_rows(workdir)
        lines.append("")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(lines), flush=True)
    put_section(REPO, SECTION, lines, "bystander.md")


if __name__ == "__main__":
    main()
