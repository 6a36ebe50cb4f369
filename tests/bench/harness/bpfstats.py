"""
BPF run-time statistics (run_time_ns, run_cnt) for the duration of the bench.

The kernel counts them only while stats are enabled. BPF_ENABLE_STATS
(kernel 5.8) enables them for as long as the returned fd stays open, without
touching the kernel.bpf_stats_enabled sysctl that other users of the machine
may rely on; the sysctl is the fallback.
"""
import ctypes
import os

SYS_BPF = 321            # x86-64
BPF_ENABLE_STATS = 32    # enum bpf_cmd
BPF_STATS_RUN_TIME = 0   # enum bpf_stats_type
SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


class RunTimeStats:
    def __init__(self):
        self._fd = -1
        self._restore = None
        self.how = ""

    def __enter__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        attr = (ctypes.c_uint32 * 2)(BPF_STATS_RUN_TIME, 0)
        fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
        if fd >= 0:
            self._fd = fd
            self.how = "BPF_ENABLE_STATS fd held by the harness"
            return self
        with open(SYSCTL) as f:
            before = f.read().strip()
        if before != "1":
            with open(SYSCTL, "w") as f:
                f.write("1")
            self._restore = before
        self.how = "sysctl kernel.bpf_stats_enabled=1"
        return self

    def __exit__(self, *exc):
        if self._fd >= 0:
            os.close(self._fd)
        if self._restore is not None:
            with open(SYSCTL, "w") as f:
                f.write(self._restore)
