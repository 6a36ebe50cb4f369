"""
Benchmark 4, the daemon: `sonde run` tracing ten processes at once.

Ten instances of the Go hello-world server (nethttp), each on its own port,
all pinned to CPU 0 like benchmark 2's servers. They are started once; each
round then starts `sonde run` with one configuration file whose target
names the ten pids (otherwise the packaged defaults, the breakdown on) and
measures:

- time to ready: from starting the process to its "ready:" line (the moment
  it would send READY=1), and to /metrics showing `sonde_targets 10`;
- RSS idle: VmRSS after `idle_s` with no traffic;
- RSS under load: one `wrk -t1 -c{connections}` per server, the ten at once,
  all pinned to CPU 1, for `load_s`; VmRSS at the end and the peak, VmHWM;
- over that window, as in benchmark 3: the daemon's CPU time and its BPF
  programs' run time and runs per request, and the requests it counted on
  /metrics against the requests wrk completed.

The daemon is stopped with SIGTERM and must exit 0.
"""
import os
import threading
import time

from . import daemon, procfs
from .overhead import GoServer, _prog_name, bpf_delta, children_cpu, wrk
from .processes import BenchError


def _wrk_all(servers, seconds, connections, lua):
    """One wrk per server, all at once: their results, in server order."""
    results, errors = [None] * len(servers), []

    def one(i, server):
        try:
            results[i] = wrk(server, seconds, connections, lua)
        except BaseException as e:   # re-raised below, in the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i, s), daemon=True) for i, s in enumerate(servers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def measure(paths, servers, rnd, p, work_dir, log):
    """One round: a result dict."""
    rec = {"round": rnd, "processes": len(servers), "connections_per_server": p["connections"], "load_s": p["load_s"]}
    d = daemon.Daemon(paths["sonde"], work_dir, "run-footprint", [s.pid for s in servers],
                      what=f"sonde run ({len(servers)} targets)")
    try:
        rec["ready_s"], rec["metrics_ready_s"] = d.wait_ready(60)
        rec["rss_ready_kib"] = d.rss_ready_kib
        text = d.metrics()
        rec["probes_attached"] = daemon.gauge(text, "sonde_probes_attached")
        time.sleep(p["idle_s"])
        rec["rss_idle_kib"] = procfs.status_kib(d.pid, "VmRSS")
        rec["rss_peak_idle_kib"] = procfs.status_kib(d.pid, "VmHWM")
        counted0 = daemon.requests_counted(d.metrics())
        names = {prog: _prog_name(prog) for prog in procfs.bpf_programs(d.pid)}

        t0, busy0 = time.monotonic(), procfs.machine_ticks()[0]
        cpu0, progs0, kids0 = procfs.cpu_seconds(d.pid), procfs.bpf_programs(d.pid), children_cpu()
        srv0 = sum(procfs.cpu_seconds(s.pid) for s in servers)
        runs = _wrk_all(servers, p["load_s"], p["connections"], paths["wrk_lua"])
        t1, busy1 = time.monotonic(), procfs.machine_ticks()[0]
        cpu1, progs1, kids1 = procfs.cpu_seconds(d.pid), procfs.bpf_programs(d.pid), children_cpu()
        srv1 = sum(procfs.cpu_seconds(s.pid) for s in servers)
        rec["rss_load_kib"] = procfs.status_kib(d.pid, "VmRSS")
        rec["rss_peak_kib"] = procfs.status_kib(d.pid, "VmHWM")
        # The last requests may still be in the ring buffer: give the daemon a moment before counting.
        time.sleep(0.5)
        rec["sonde_requests"] = daemon.requests_counted(d.metrics()) - counted0
    except BaseException:
        d.kill()
        raise
    rc = d.stop(30)
    rec["exit_status"] = rc
    if rc != 0:
        raise BenchError(f"sonde run exited with {rc}: " + " | ".join(d.lines[-10:]))

    requests = sum(r["requests"] for r in runs)
    elapsed = t1 - t0
    rec.update(requests=requests, rps=sum(r["rps"] for r in runs),
               rps_per_server=[round(r["rps"]) for r in runs], p50_us_max=max(r["p50_us"] for r in runs),
               tracer_cpu_us_per_req=(cpu1 - cpu0) / requests * 1e6, tracer_cpu_share=(cpu1 - cpu0) / elapsed)
    rec["bpf"], rec["bpf_ns_per_req"], rec["hits_per_req"] = bpf_delta(progs0, progs1, names, requests)
    busy = (busy1 - busy0) / procfs.CLK_TCK
    ours = (srv1 - srv0) + (cpu1 - cpu0) + (kids1 - kids0)
    rec["other_load"] = max(0.0, busy - ours) / (elapsed * os.cpu_count())
    log(f"footprint round {rnd + 1} sonde run, {len(servers)} targets: ready {rec['ready_s']:.2f}s"
        f" (/metrics {rec['metrics_ready_s']:.2f}s), RSS idle {rec['rss_idle_kib'] / 1024:.0f} MiB,"
        f" under load {rec['rss_load_kib'] / 1024:.0f} MiB (peak {rec['rss_peak_kib'] / 1024:.0f} MiB),"
        f" {rec['rps']:.0f} req/s, counted {rec['sonde_requests']:.0f} of {requests},"
        f" daemon {rec['tracer_cpu_share'] * 100:.1f}% CPU  other load {rec['other_load'] * 100:.0f}%")
    return rec


def run(paths, p, rounds, work_dir, log):
    """Starts the servers, runs every round: the rounds' results."""
    servers = [GoServer(f"nethttp-{i + 1}", paths["servers"]["nethttp"]) for i in range(p["processes"])]
    results = []
    try:
        for s in servers:
            s.start()
        for rnd in range(rounds):
            waited, busy = procfs.wait_for_quiet(p["quiet_wait_s"])
            rec = measure(paths, servers, rnd, p, work_dir, log)
            rec.update(quiet_wait_s=waited, busy_before=busy)
            results.append(rec)
    finally:
        for s in servers:
            s.stop()
    return results
