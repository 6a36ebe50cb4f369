"""What /proc says about a process, the machine, and BPF programs."""
import os
import re

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def machine_ticks():
    """(busy, total) CPU ticks of all CPUs since boot (/proc/stat); idle and iowait are not busy."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
    total = sum(values[:8])
    return total - values[3] - values[4], total


def bpf_programs(pid):
    """{prog_id: (run_time_ns, run_cnt)} for every BPF program fd the process holds (/proc/PID/fdinfo)."""
    progs = {}
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(f"{fd_dir}/{fd}") != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(re.findall(r"^(\w+):\s+(\S+)", f.read(), re.M))
        except (FileNotFoundError, ProcessLookupError):
            continue
        if "prog_id" in info:
            progs[int(info["prog_id"])] = (int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0)))
    return progs


def wait_for_quiet(max_wait, threshold=0.15, window=1.0):
    """
    Waits, up to max_wait seconds, for a window in which the machine's CPUs
    are at most `threshold` busy (call it while the bench itself is idle).
    Returns (seconds waited, busy share of the last window).
    """
    import time
    if max_wait <= 0:
        return 0.0, None
    start = time.monotonic()
    while True:
        b0, _ = machine_ticks()
        t0 = time.monotonic()
        time.sleep(window)
        b1, _ = machine_ticks()
        share = (b1 - b0) / CLK_TCK / ((time.monotonic() - t0) * os.cpu_count())
        waited = time.monotonic() - start
        if share <= threshold or waited >= max_wait:
            return waited, share
