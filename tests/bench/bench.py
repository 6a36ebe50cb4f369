#!/usr/bin/env python3
"""
Sonde's benchmark suite: `make bench` (the full run, ~15 minutes: writes
BENCHMARKS.md and tests/bench/overhead.svg) and `make bench-smoke` (every
benchmark once with small sizes, < 60 s; fails only on crashes and errors).

  1. ring buffer consumer: Sonde's RingBufferReader vs libbpf's, one producer
  2. overhead on a Go service: untraced / sonde trace variants / bpftrace
  3. cost per request: tracer CPU, BPF run time, probe hits
  4. footprint: tracer RSS, time to ready; `sonde run` tracing 10 servers
  5. cost per request by Go version: the stripped net/http server of every
     toolchain, untraced and traced with the breakdown off and on

Needs root, 2+ CPUs, and what `make bench` builds and installs. Python
standard library only.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import footprint, goversions, machine, overhead, report, ringbuf, routers  # noqa: E402
from harness.bpfstats import RunTimeStats  # noqa: E402
from harness.processes import BenchError  # noqa: E402

FULL = {
    "rounds": 5,
    "servers": ["nethttp", "gin"],
    "ringbuf": {"batch": 256, "ring_bytes": 8 << 20, "warmup_s": 4, "measure_s": 2, "quiet_wait_s": 10},
    "overhead": {"measure_s": 8, "light_s": 2, "warm_s": 1, "idle_s": 1, "quiet_wait_s": 15},
    "footprint": {"processes": 10, "connections": 2, "idle_s": 1, "load_s": 8, "quiet_wait_s": 15},
    "goversions": {"rounds": 3, "measure_s": 4, "light_s": 1, "warm_s": 1, "idle_s": 0.5, "quiet_wait_s": 10},
    "routers": {"rounds": 3, "measure_s": 4, "light_s": 1, "warm_s": 1, "idle_s": 0.5, "quiet_wait_s": 10},
}
SMOKE = {
    "rounds": 1,
    "servers": ["gin"],
    "ringbuf": {"batch": 64, "ring_bytes": 1 << 20, "warmup_s": 0.5, "measure_s": 0.5, "quiet_wait_s": 0},
    "overhead": {"measure_s": 1, "light_s": 1, "warm_s": 1, "idle_s": 0.2, "quiet_wait_s": 0},  # wrk takes whole seconds
    "footprint": {"processes": 10, "connections": 2, "idle_s": 0.5, "load_s": 1, "quiet_wait_s": 0},
    # The oldest and the newest only: the smoke run checks the harness, not the versions.
    "goversions": {"rounds": 1, "measure_s": 1, "light_s": 1, "warm_s": 1, "idle_s": 0.2, "quiet_wait_s": 0, "ends_only": True},
    "routers": {"rounds": 1, "measure_s": 1, "light_s": 1, "warm_s": 1, "idle_s": 0.2, "quiet_wait_s": 0, "ends_only": True},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=".", help="repository root (default: .)")
    ap.add_argument("--smoke", action="store_true", help="every benchmark once, small sizes")
    ap.add_argument("--rounds", type=int, help="rounds per benchmark (default 5; smoke 1)")
    ap.add_argument("--report", help="markdown report (default BENCHMARKS.md; smoke: out/bench-smoke/BENCHMARKS.md)")
    ap.add_argument("--plot", help="overhead plot, SVG (default tests/bench/overhead.svg; smoke: out/bench-smoke/overhead.svg)")
    ap.add_argument("--results", help="raw results, JSON (default tests/bench/results.json; smoke: out/bench-smoke/results.json)")
    ap.add_argument("--only", choices=["ringbuf", "overhead", "footprint", "goversions", "routers"],
                    help="run one benchmark only; the report keeps the other sections of the saved results")
    ap.add_argument("--from-results", metavar="JSON", help="don't run: write the report and plot again from a run's results")
    args = ap.parse_args()

    repo = os.path.abspath(args.repo)
    params = json.loads(json.dumps(SMOKE if args.smoke else FULL))
    params["smoke"] = args.smoke
    if args.rounds:
        params["rounds"] = args.rounds
    work = os.path.join(repo, "out", "bench-smoke" if args.smoke else "bench", "work")
    os.makedirs(work, exist_ok=True)
    smoke_dir = os.path.join(repo, "out", "bench-smoke")
    report_path = args.report or (os.path.join(smoke_dir, "BENCHMARKS.md") if args.smoke else os.path.join(repo, "BENCHMARKS.md"))
    plot_path = args.plot or (os.path.join(smoke_dir, "overhead.svg") if args.smoke else os.path.join(repo, "tests", "bench", "overhead.svg"))
    results_path = args.results or (os.path.join(smoke_dir, "results.json") if args.smoke else os.path.join(repo, "tests", "bench", "results.json"))
    paths = {
        # What users run: the package's self-contained, trimmed build (/usr/bin/sonde).
        "sonde": os.path.join(repo, "out", "package", "sonde"),
        "sonde_build": "`out/package/sonde`, the Debian package's self-contained, trimmed ReadyToRun executable "
                       "(`/usr/bin/sonde` once installed; `make deb`)",
        "servers": {n: os.path.join(repo, "out", "goservers", n) for n in ("nethttp", "gin")},
        "go_versions": goversions.servers(repo),
        "routers": routers.servers(repo),
        "bench_bpf_o": os.path.join(repo, "out", "bpf", "bench.bpf.o"),
        "ringbuf_consumer": os.path.join(repo, "out", "bench", "ringbuf-consumer"),
        "ringbuf_producer": os.path.join(repo, "out", "bench", "ringbuf-producer"),
        "ringbuf_dotnet": os.path.join(repo, "out", "bench", "ringbuf-dotnet", "ringbuf-bench"),
        "bpftrace_script": os.path.join(repo, "tests", "bench", "peer", "http_latency.bt"),
        "wrk_lua": os.path.join(repo, "tests", "bench", "wrk_report.lua"),
    }
    t0 = time.monotonic()

    def log(msg):
        print(f"bench [{time.monotonic() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    if args.from_results:
        with open(args.from_results) as f:
            saved = json.load(f)
        servers = [(n, paths["servers"][n]) for n in saved["params"]["servers"]]
        report.write(report_path, plot_path, saved["machine"], saved["params"], saved["ringbuf"], saved["overhead"], servers,
                     saved["variants"], saved["skipped"], saved["notes"], work, saved.get("footprint", []),
                     saved.get("goversions", []), saved.get("goversions_notes"), saved.get("routers", []), saved.get("routers_notes"))
        log(f"wrote {os.path.relpath(report_path, repo)}, {os.path.relpath(plot_path, repo)} from {args.from_results}")
        return 0
    try:
        preflight(paths)
        info = machine.describe(paths, repo)
        load_start = machine.loadavg()
        servers = [(n, paths["servers"][n]) for n in params["servers"]]
        rb_results, oh_results, fp_results, gv_results, rt_results, skipped, variants = [], [], [], [], [], {}, []
        with RunTimeStats() as stats:
            log(f"BPF run-time statistics: {stats.how}")
            if args.only in (None, "ringbuf"):
                rb_results = ringbuf.run(paths, params["ringbuf"], params["rounds"], log)
            if args.only in (None, "overhead"):
                oh_results, skipped, variants = overhead.run_all(paths, servers, params["overhead"], params["rounds"], work, log)
            if args.only in (None, "footprint"):
                fp_results = footprint.run(paths, params["footprint"], params["rounds"], work, log)
            if args.only in (None, "goversions"):
                gv = params["goversions"]
                gv_results = goversions.run(paths, gv, gv["rounds"], work, log)
            if args.only in (None, "routers"):
                rt = params["routers"]
                rt_results = routers.run(paths, rt, rt["rounds"], work, log)
        elapsed = time.monotonic() - t0
        other = [r["other_load"] for r in oh_results + fp_results]
        notes = {
            "load_start": load_start, "load_end": machine.loadavg(),
            "other_load": statistics.median(other) if other else None, "other_load_max": max(other) if other else None,
            "runtime": f"{elapsed / 60:.1f} min for the benchmarks (`make bench` adds its builds)",
        }
        gv_notes = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_start": load_start,
                    "load_end": machine.loadavg(), "with_the_rest": args.only is None}
        rt_notes = dict(gv_notes)
        results = {"machine": info, "params": params, "notes": notes, "skipped": skipped, "variants": variants,
                   "ringbuf": rb_results, "overhead": oh_results, "footprint": fp_results,
                   "goversions": gv_results, "goversions_notes": gv_notes,
                   "routers": rt_results, "routers_notes": rt_notes}
        if args.only and os.path.exists(results_path):
            # One benchmark again: the other sections stay those of the saved run, and say so.
            with open(results_path) as f:
                saved = json.load(f)
            keep = {"ringbuf": "ringbuf", "overhead": "overhead", "footprint": "footprint", "goversions": "goversions", "routers": "routers"}
            for section in keep.values():
                if section != args.only:
                    results[section] = saved.get(section, [])
            for section in ("goversions", "routers"):
                if args.only != section:
                    results[section + "_notes"] = saved.get(section + "_notes")
            if args.only in ("goversions", "routers"):
                for key in ("machine", "params", "notes", "skipped", "variants"):
                    results[key] = saved.get(key, results[key])
                results["params"][args.only] = params[args.only]
        os.makedirs(os.path.dirname(results_path), exist_ok=True)
        with open(results_path, "w") as f:
            json.dump(results, f, indent=1)
        os.makedirs(os.path.dirname(plot_path), exist_ok=True)
        servers = [(n, paths["servers"][n]) for n in results["params"]["servers"]]
        report.write(report_path, plot_path, results["machine"], results["params"], results["ringbuf"], results["overhead"],
                     servers, results["variants"], results["skipped"], results["notes"], work, results["footprint"],
                     results["goversions"], results["goversions_notes"], results.get("routers", []), results.get("routers_notes"))
        log(f"wrote {os.path.relpath(report_path, repo)}, {os.path.relpath(plot_path, repo)}, {os.path.relpath(results_path, repo)}")
    except BenchError as e:
        log(f"error: {e}")
        return 1
    return 0


def preflight(paths):
    if os.geteuid() != 0:
        raise BenchError("run as root: the benchmarks load BPF programs and attach uprobes")
    if (os.cpu_count() or 1) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        raise BenchError("the benchmarks pin to CPUs 0 and 1: need both")
    for tool in ("taskset", "wrk", "bpftrace", "bpftool", "gnuplot", "go", "dotnet"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not installed (make bench-deps)")
    for key in ("sonde", "bench_bpf_o", "ringbuf_consumer", "ringbuf_producer", "ringbuf_dotnet"):
        if not os.path.exists(paths[key]):
            raise BenchError(f"{paths[key]} is missing: build it with make bench")
    for name, path in list(paths["servers"].items()) + paths["go_versions"]:
        if not os.path.exists(path):
            raise BenchError(f"{path} is missing: make goservers")


if __name__ == "__main__":
    sys.exit(main())
