"""
`sonde run`, the daemon, as the benchmarks start it: a configuration file
in the work directory, the process with a clean environment, readiness, and
its Prometheus endpoint.

The configuration is what a service install gets (packaging/sonde.json)
except for the targets and the metrics port: in particular the tracing
defaults, the breakdown on. Readiness is the daemon's own "ready: ..." log
line (it logs one line per message on stderr when stderr is not the
journal), written once the metrics endpoint listens and every target found
at start is attached, the moment it would send READY=1 to systemd; the
harness then checks on /metrics that `sonde_targets` counts the processes it
was given.
"""
import http.client
import json
import os
import re
import socket
import time

from . import procfs
from .processes import Background, BenchError

READY = re.compile(r"\bready: \d+ targets?\b")
_GAUGE = r"^{name}(?:\{{\}})? (\S+)$"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(work_dir, name, pids, service="bench"):
    """A configuration tracing exactly these pids; (its path, its metrics port)."""
    port = free_port()
    config = {
        "targets": [{"pids": list(pids), "service": service}],
        "metrics": {"listen": f"127.0.0.1:{port}"},
    }
    path = os.path.join(work_dir, f"{name}.json")
    with open(path, "w") as f:
        f.write("// Written by tests/bench: the packaged defaults (tracing.breakdown on) but these targets and port.\n")
        json.dump(config, f, indent=2)
        f.write("\n")
    return path, port


def environment():
    """
    The harness's environment without what would change the daemon's
    behaviour: SONDE_* variables override configuration keys, and systemd's
    notify socket, watchdog and journal stream belong to whatever started the
    harness.
    """
    drop = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}
    return {k: v for k, v in os.environ.items() if not k.startswith("SONDE_") and k not in drop}


class Daemon:
    """One `sonde run --config FILE` process, stopped with SIGTERM."""

    def __init__(self, sonde, work_dir, name, pids, what="sonde run"):
        self.config, self.port = write_config(work_dir, name, pids)
        self.expected = len(pids)
        self.what = what
        self.proc = Background([sonde, "run", "--config", self.config], what, env=environment())

    @property
    def pid(self):
        return self.proc.pid

    @property
    def lines(self):
        return self.proc.lines

    def wait_ready(self, timeout=60):
        """
        Seconds from the start of the process to its "ready:" line; then
        checks that /metrics says sonde_targets == the number of pids given
        (BenchError if it doesn't within 10 s). Returns (ready_s, metrics_s):
        metrics_s is when /metrics first showed it, from the start too.
        Sets rss_ready_kib: VmRSS at the ready line, before the first scrape.
        """
        ready = self.proc.wait_for(READY, timeout)
        # Before anything asks for /metrics (the first scrape loads the endpoint's code).
        self.rss_ready_kib = procfs.status_kib(self.pid, "VmRSS")
        deadline = time.monotonic() + 10
        seen = None
        while True:
            try:
                seen = gauge(self.metrics(), "sonde_targets")
            except (OSError, http.client.HTTPException):
                seen = None
            if seen == self.expected:
                return ready, time.monotonic() - self.proc.started
            if self.proc.proc.poll() is not None:
                raise BenchError(f"{self.what} exited with {self.proc.proc.returncode} after it was ready: "
                                 + " | ".join(self.lines[-10:]))
            if time.monotonic() > deadline:
                raise BenchError(f"{self.what} is ready but its /metrics says sonde_targets {seen}, not {self.expected}: "
                                 + " | ".join(self.lines[-10:]))
            time.sleep(0.02)

    def metrics(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", "/metrics")
            r = c.getresponse()
            body = r.read().decode()
            if r.status != 200:
                raise BenchError(f"{self.what}: GET /metrics answered {r.status}")
            return body
        finally:
            c.close()

    def stop(self, timeout=30):
        return self.proc.stop(timeout)

    def kill(self):
        self.proc.kill()


def gauge(text, name):
    """The value of an unlabelled metric in Prometheus text format, or None."""
    m = re.search(_GAUGE.format(name=re.escape(name)), text, re.M)
    return None if m is None else float(m[1])


def requests_counted(text, service="bench"):
    """Requests the daemon has counted for a service: the sum of its http_server_request_duration_seconds_count series."""
    total = 0.0
    for m in re.finditer(r'^http_server_request_duration_seconds_count\{([^}]*)\} (\S+)$', text, re.M):
        if f'service="{service}"' in m[1]:
            total += float(m[2])
    return total
