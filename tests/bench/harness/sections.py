"""
What the standalone benchmarks (tests/bench/protocols.py, bystander.py,
realistic.py, calls.py, boundary.py) share: where things are, how long and how
often to measure, free ports, waiting for a server to listen, and putting their
Markdown section into BENCHMARKS.md and the kept copy `make bench` includes.
Standard library only.
"""
import os
import socket
import statistics
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SONDE = os.path.join(REPO, "out", "package", "sonde")   # what users install, as bench.py measures
REPORT_LUA = os.path.join(REPO, "tests", "bench", "wrk_report.lua")
SMOKE = "--smoke" in sys.argv[1:]   # make bench-smoke: once, briefly, printed only


def rounds(default):
    """Rounds to alternate the variants over: SONDE_BENCH_ROUNDS, else `default`; one with --smoke."""
    return 1 if SMOKE else int(os.environ.get("SONDE_BENCH_ROUNDS", str(default)))


def seconds(default):
    """Seconds per measurement: SONDE_BENCH_SECONDS, else `default`; two with --smoke."""
    return 2 if SMOKE else int(os.environ.get("SONDE_BENCH_SECONDS", str(default)))


def within_rounds(rows, base, f):
    """f(row, base's row of the same round) for each round, as (median, min, max): a ratio
    to untraced taken within a round, which the VM's drift between rounds doesn't move."""
    v = [f(r, b) for r, b in zip(rows, base)]
    return statistics.median(v), min(v), max(v)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def start_on(cpu, argv, port):
    """Starts argv pinned to `cpu` (taskset), its output discarded, once it listens on `port`."""
    proc = subprocess.Popen(["taskset", "-c", str(cpu), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def put_section(repo, section, lines, kept):
    """Writes `lines` (a section starting with the `section` heading) to tests/bench/`kept`,
    which make bench's report includes, and into BENCHMARKS.md in place of an earlier run's."""
    with open(os.path.join(repo, "tests", "bench", kept), "w") as f:
        f.write("\n".join(lines))
    bench = os.path.join(repo, "BENCHMARKS.md")
    with open(bench) as f:
        text = f.read()
    block = "\n".join(lines) + "\n"
    if section in text:
        start = text.index(section)
        nxt = text.find("\n## ", start + 1)
        end = text.find("\nRaw results:", start) if nxt < 0 else nxt
        text = text[:start] + block + text[end + 1:] if end >= 0 else text[:start] + block
    else:
        at = text.find("Raw results:")
        text = text[:at] + block + "\n" + text[at:] if at >= 0 else text + "\n" + block
    with open(bench, "w") as f:
        f.write(text)
