"""The machine and the versions a run used, for BENCHMARKS.md."""
import datetime
import os
import platform
import re
import subprocess


def _out(argv, pattern=None):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (p.stdout + p.stderr).strip()
    if pattern:
        m = re.search(pattern, text, re.M)
        return m.group(1) if m else "?"
    return text.splitlines()[0] if text else "?"


def _dpkg(package):
    return _out(["dpkg-query", "-W", "-f=${Version}", package])


def _cpuinfo():
    model, flags = "?", ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = line
    return model, " hypervisor" in flags


def _mem_gib():
    with open("/proc/meminfo") as f:
        kib = int(f.readline().split()[1])
    return kib / (1 << 20)


def _os_release():
    try:
        with open("/etc/os-release") as f:
            return dict(re.findall(r'^(\w+)="?([^"\n]*)"?', f.read(), re.M)).get("PRETTY_NAME", "?")
    except OSError:
        return "?"


def describe(paths, repo):
    model, virtual = _cpuinfo()
    dirty = _out(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"])
    # GOPATH builds carry no module versions: Gin's is its Debian source package's.
    gin = _dpkg("golang-github-gin-gonic-gin-dev")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "sonde_build": paths.get("sonde_build", "out/sonde"),
        "cpu": model,
        "cpus": os.cpu_count(),
        "virtual": virtual,
        "memory_gib": round(_mem_gib(), 1),
        "os": _os_release(),
        "kernel": platform.release(),
        "kernel_build": platform.version(),
        "commit": _out(["git", "-C", repo, "rev-parse", "--short", "HEAD"]) + (" (+ uncommitted changes)" if dirty not in ("", "?") else ""),
        "versions": {
            "sonde": _out([paths["sonde"], "version"], r"sonde (\S+)"),
            ".NET runtime": _out(["dotnet", "--list-runtimes"], r"Microsoft\.NETCore\.App (\S+)"),
            "Go (servers)": _out(["go", "version", paths["servers"]["gin"]], r"(go\d\S*)"),
            "Gin": gin,
            "libbpf": _dpkg("libbpf1"),
            "clang": _out(["clang", "--version"], r"clang version (\S+)"),
            "bpftrace": _out(["bpftrace", "--version"], r"bpftrace v?(\S+)"),
            "bpftool": _out(["bpftool", "version"], r"bpftool v?(\S+)"),
            "wrk": _out(["wrk", "-v"], r"wrk (\S+)"),
            "gnuplot": _out(["gnuplot", "--version"], r"gnuplot (\S+ \S+ \S+)"),
        },
    }


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
