"""
Benchmarks 2-4: what tracing costs a Go HTTP service.

Each Go hello-world server runs on CPU 0 (taskset; GOMAXPROCS follows the
affinity: 1) and wrk -t1 saturates it from CPU 1. Tracers run unpinned, as
a deployment would run them: their user-space CPU lands on whichever core
the scheduler picks, and their BPF programs run on CPU 0, in the server's
threads, where uprobes fire. Every round measures every variant, in an order
rotated by the round; ratios are taken within a round.

Per variant and round: throughput and latency under saturation (-c16), the
p50 latency of one connection at a time (-c1: no queueing, so the difference
to untraced is the latency a request gains), the server's and the tracer's
CPU time per request, the tracer's BPF programs' run time and run count
(/proc/PID/fdinfo), its RSS idle and under load, and its time to ready.

Tracers: `sonde trace` in its variants, `sonde run` (the daemon, with a
configuration file naming the server's pid and otherwise the packaged
defaults: harness/daemon.py), and bpftrace as the peer. The daemon tracing
ten servers at once is harness/footprint.py.
"""
import http.client
import json
import os
import re
import resource
import subprocess
import time

from . import daemon, procfs
from .processes import Background, BenchError, run


class Variant:
    """
    A row of the overhead tables: how to start its tracer (None: untraced)
    and what says it's ready. start(server) returns a started
    tracer with pid, lines, wait_ready(timeout) -> seconds, stop(timeout) and kill().
    """

    def __init__(self, key, label, argv=None, ready=None, kind="sonde", start=None):
        self.key, self.label, self.argv, self.ready, self.kind = key, label, argv, ready, kind
        self._start = start

    @property
    def traced(self):
        return self.argv is not None or self._start is not None

    def start(self, server):
        if self._start:
            return self._start(server)
        return _Command(self.argv(server), self.label, self.ready)


class _Command:
    """A tracer that is one command whose output says when it's ready."""

    def __init__(self, argv, what, ready):
        self.proc = Background(argv, what)
        self.ready = ready

    pid = property(lambda self: self.proc.pid)
    lines = property(lambda self: self.proc.lines)

    def wait_ready(self, timeout):
        return self.proc.wait_for(self.ready, timeout)

    def stop(self, timeout):
        return self.proc.stop(timeout)

    def kill(self):
        self.proc.kill()


class _Run:
    """`sonde run` tracing one server, with a configuration of its own."""

    def __init__(self, sonde, work_dir, server, label):
        self.daemon = daemon.Daemon(sonde, work_dir, f"run-{server.name}", [server.pid], what=label)

    pid = property(lambda self: self.daemon.pid)
    lines = property(lambda self: self.daemon.lines)

    def wait_ready(self, timeout):
        ready, self.metrics_s = self.daemon.wait_ready(timeout)
        return ready

    def stop(self, timeout):
        return self.daemon.stop(timeout)

    def kill(self):
        self.daemon.kill()


RUN_LABEL = "sonde run (daemon, defaults: breakdown on)"


def variants(paths, work_dir, skipped):
    """
    The variants this build supports. A planned row whose command or option
    this build lacks is recorded in skipped (label -> why) instead.
    """
    sonde = paths["sonde"]
    sonde_help = run([sonde, "--help"], 30, "sonde --help")
    trace_help = run([sonde, "trace", "--help"], 30, "sonde trace --help")
    # Single uprobes (SONDE_UPROBE_MULTI=0), not multi-uprobe links: each program then keeps
    # run-time statistics of its own (multi-uprobe links run every probe as sonde_uprobe).
    trace = lambda *extra: (lambda server: ["env", "SONDE_UPROBE_MULTI=0", sonde, "trace", "--pid", str(server.pid),
                                            "--no-summary", *extra])

    found = [Variant("untraced", "untraced", kind="baseline")]
    if "--breakdown" in trace_help:
        # The breakdown is on by default: the cheapest tracing is asked for, and the default is a row of its own.
        off = ("--breakdown", "off")
        found.append(Variant("trace", "sonde trace --breakdown off", trace(*off), "probes attached"))
        found.append(Variant("trace-breakdown", "sonde trace (default: breakdown on)", trace("--breakdown", "on"),
                             "probes attached"))
    else:
        off = ()
        found.append(Variant("trace", "sonde trace", trace(), "probes attached"))
        skipped["sonde trace --breakdown on"] = "`sonde trace --help` has no --breakdown in this build"
    found.append(Variant("trace-ret", " ".join(["sonde trace --end-probe ret", *off]), trace("--end-probe", "ret", *off),
                         "probes attached"))
    if re.search(r"^\s+run\s", sonde_help, re.M):
        found.append(Variant("run", RUN_LABEL, start=lambda server: _Run(sonde, work_dir, server, RUN_LABEL)))
    else:
        skipped[RUN_LABEL] = "`sonde --help` lists no `run` in this build"

    def bpftrace(server):
        with open(paths["bpftrace_script"]) as f:
            script = f.read().replace("@BINARY@", server.path)
        path = os.path.join(work_dir, f"peer-{server.name}.bt")
        with open(path, "w") as f:
            f.write(script)
        return ["bpftrace", "-p", str(server.pid), path]

    found.append(Variant("bpftrace", "bpftrace (peer)", bpftrace, "ready", kind="peer"))
    return found


class GoServer:
    """A Go hello-world server pinned to CPU 0; wrk asks it for url_path."""

    def __init__(self, name, path, url_path="/hello"):
        self.name, self.path, self.url_path = name, os.path.abspath(path), url_path
        self.proc = None
        self.port = None

    @property
    def pid(self):
        return self.proc.pid   # taskset execs the server: same pid

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{self.url_path}"

    def start(self):
        self.port = daemon.free_port()
        self.proc = Background(["taskset", "-c", "0", self.path, "-addr", f"127.0.0.1:{self.port}"], f"server {self.name}")
        deadline = time.monotonic() + 15
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/hello")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.proc.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"server {self.name} did not answer on port {self.port}: " + " | ".join(self.proc.lines[-5:]))
            time.sleep(0.05)

    def stop(self):
        if self.proc:
            self.proc.stop(15)


def wrk(server, seconds, connections, lua):
    """One wrk run from CPU 1: its SONDE_BENCH result plus requests/s."""
    argv = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", lua, server.url]
    out = run(argv, seconds + 60, "wrk")
    line = next((l for l in out.splitlines() if l.startswith("SONDE_BENCH ")), None)
    if line is None:
        raise BenchError("wrk printed no result: " + out[-1000:])
    r = json.loads(line[len("SONDE_BENCH "):])
    if r["requests"] == 0:
        raise BenchError(f"wrk made no request to {server.url}")
    if r["socket_errors"] or r["non2xx"]:
        raise BenchError(f"wrk against {server.name}: {r['socket_errors']} socket errors, {r['non2xx']} non-2xx answers")
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


class _Snapshot:
    def __init__(self, server, tracer):
        self.t = time.monotonic()
        self.busy, _ = procfs.machine_ticks()
        self.server_cpu = procfs.cpu_seconds(server.pid)
        self.tracer_cpu = procfs.cpu_seconds(tracer.pid) if tracer else 0.0
        self.progs = procfs.bpf_programs(tracer.pid) if tracer else {}
        self.children_cpu = children_cpu()


def children_cpu():
    """CPU seconds of the harness's waited-for children (wrk)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def bpf_delta(before, after, names, requests):
    """
    Between two procfs.bpf_programs() readings of a tracer: run time and runs
    per program name ({name: {run_time_ns, run_cnt}}), and their totals per request.
    """
    progs = {}
    for prog, (ns1, cnt1) in after.items():
        ns0, cnt0 = before.get(prog, (0, 0))
        t = progs.setdefault(names.get(prog) or _prog_name(prog), [0, 0])
        t[0] += ns1 - ns0
        t[1] += cnt1 - cnt0
    return ({n: {"run_time_ns": v[0], "run_cnt": v[1]} for n, v in progs.items()},
            sum(v[0] for v in progs.values()) / requests, sum(v[1] for v in progs.values()) / requests)


_prog_names = {}


def _prog_name(prog_id):
    if prog_id not in _prog_names:
        try:
            _prog_names[prog_id] = json.loads(run(["bpftool", "-j", "prog", "show", "id", str(prog_id)], 30, "bpftool")).get("name", "?")
        except (BenchError, ValueError):
            _prog_names[prog_id] = "?"
    return _prog_names[prog_id]


_DETACHED = re.compile(r"detached .*?; (\d+) requests, (\d+) dropped, ([\d.]+) probe hits per request")
_PLANNED = re.compile(r"(\d+) uprobes \((\d+) on emulated instructions, (\d+) single-stepped\)")


def measure(server, variant, rnd, p, lua, log):
    """One variant in one round: a result dict."""
    rec = {"server": server.name, "variant": variant.key, "label": variant.label, "kind": variant.kind, "round": rnd}
    tracer = None
    if variant.traced:
        tracer = variant.start(server)
    try:
        if tracer:
            rec["ready_s"] = tracer.wait_ready(60)
            if getattr(tracer, "metrics_s", None) is not None:
                rec["metrics_ready_s"] = tracer.metrics_s
            time.sleep(p["idle_s"])
            rec["rss_idle_kib"] = procfs.status_kib(tracer.pid, "VmRSS")
            names = {prog: _prog_name(prog) for prog in procfs.bpf_programs(tracer.pid)}
        wrk(server, p["warm_s"], 16, lua)
        a = _Snapshot(server, tracer)
        sat = wrk(server, p["measure_s"], 16, lua)
        b = _Snapshot(server, tracer)
        if tracer:
            rec["rss_load_kib"] = procfs.status_kib(tracer.pid, "VmRSS")
            rec["rss_peak_kib"] = procfs.status_kib(tracer.pid, "VmHWM")
        light = wrk(server, p["light_s"], 1, lua)
    except BaseException:
        if tracer:
            tracer.kill()
        raise
    if tracer:
        rc = tracer.stop(30)
        rec["exit_status"] = rc
        if rc != 0:
            raise BenchError(f"{variant.label} exited with {rc}: " + " | ".join(tracer.lines[-10:]))
        m = next((_DETACHED.search(l) for l in tracer.lines if _DETACHED.search(l)), None)
        if m:
            rec["sonde_requests"], rec["sonde_drops"], rec["sonde_hits_per_request"] = int(m[1]), int(m[2]), float(m[3])
        m = next((_PLANNED.search(l) for l in tracer.lines if _PLANNED.search(l)), None)
        if m:
            rec["uprobes"], rec["uprobes_emulated"], rec["uprobes_stepped"] = int(m[1]), int(m[2]), int(m[3])

    requests = sat["requests"]
    elapsed = b.t - a.t
    rec.update(
        rps=sat["rps"], p50_us=sat["p50_us"], p90_us=sat["p90_us"], p99_us=sat["p99_us"], p999_us=sat["p999_us"],
        requests=requests, light_p50_us=light["p50_us"], light_p99_us=light["p99_us"], light_rps=light["rps"],
        server_cpu_us_per_req=(b.server_cpu - a.server_cpu) / requests * 1e6,
        server_cpu_share=(b.server_cpu - a.server_cpu) / elapsed,
    )
    wrk_cpu = b.children_cpu - a.children_cpu
    busy = (b.busy - a.busy) / procfs.CLK_TCK
    ours = (b.server_cpu - a.server_cpu) + (b.tracer_cpu - a.tracer_cpu) + wrk_cpu
    rec["other_load"] = max(0.0, busy - ours) / (elapsed * os.cpu_count())
    rec["machine_busy"] = busy / (elapsed * os.cpu_count())
    rec["wrk_cpu_share"] = wrk_cpu / elapsed
    if tracer:
        rec["tracer_cpu_us_per_req"] = (b.tracer_cpu - a.tracer_cpu) / requests * 1e6
        rec["tracer_cpu_share"] = (b.tracer_cpu - a.tracer_cpu) / elapsed
        rec["bpf"], rec["bpf_ns_per_req"], rec["hits_per_req"] = bpf_delta(a.progs, b.progs, names, requests)
    log(f"{server.name:8} round {rnd + 1} {variant.label:42} {rec['rps']:9.0f} req/s  p50 {rec['p50_us']:5d} us"
        f"  c1 p50 {rec['light_p50_us']:4d} us"
        + (f"  tracer {rec['tracer_cpu_share'] * 100:4.1f}% CPU, {rec['hits_per_req']:.2f} hits/req,"
           f" BPF {rec['bpf_ns_per_req']:.0f} ns/req, ready {rec['ready_s']:.2f}s" if tracer else "")
        + f"  other load {rec['other_load'] * 100:.0f}%")
    return rec


def run_all(paths, servers, p, rounds, work_dir, log):
    """Every server, every round, every variant: (results, skipped variants)."""
    skipped = {}
    vs = variants(paths, work_dir, skipped)
    results = []
    for name, path in servers:
        server = GoServer(name, path)
        server.start()
        try:
            wrk(server, p["warm_s"] * 2, 16, paths["wrk_lua"])
            for rnd in range(rounds):
                # Other users of the machine skew a round: give them a moment to finish first.
                waited, busy = procfs.wait_for_quiet(p["quiet_wait_s"])
                k = rnd % len(vs)
                for v in vs[k:] + vs[:k]:
                    rec = measure(server, v, rnd, p, paths["wrk_lua"], log)
                    rec.update(quiet_wait_s=waited, busy_before=busy)
                    results.append(rec)
        finally:
            server.stop()
    return results, skipped, [(v.key, v.label, v.kind) for v in vs]


def interleaved(servers, keys, paths, p, rounds, work_dir, log, url_path="/hello"):
    """
    For each (label, path, extra) server: start it, warm it, then per round the
    variants named in keys in rotating order; one result dict per measurement,
    tagged with the label and the extra fields (a dict).
    """
    skipped = {}
    vs = [v for v in variants(paths, work_dir, skipped) if v.key in keys]
    results = []
    for label, path, extra in servers:
        server = GoServer(label, path, url_path=url_path)
        server.start()
        try:
            wrk(server, p["warm_s"], 16, paths["wrk_lua"])
            for rnd in range(rounds):
                waited, busy = procfs.wait_for_quiet(p["quiet_wait_s"])
                k = rnd % len(vs)
                for v in vs[k:] + vs[:k]:
                    rec = measure(server, v, rnd, p, paths["wrk_lua"], log)
                    rec.update(extra, quiet_wait_s=waited, busy_before=busy)
                    results.append(rec)
        finally:
            server.stop()
    return results
