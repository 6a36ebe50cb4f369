using System.Runtime.InteropServices;

namespace Sonde.Tests.Metrics;

/// <summary>
/// Turns on the kernel's BPF run-time statistics for as long as it lives,
/// through libbpf's <c>bpf_enable_stats(BPF_STATS_RUN_TIME)</c> (the
/// <c>BPF_ENABLE_STATS</c> command, Linux 5.8): the kernel counts while any
/// such fd is open and stops when the last one closes, so the test leaves
/// <c>kernel.bpf_stats_enabled</c> as it found it. Needs CAP_SYS_ADMIN.
/// </summary>
internal sealed partial class BpfStatsScope : IDisposable
{
    private const int BpfStatsRunTime = 0; // enum bpf_stats_type
    private int _fd;

    private BpfStatsScope(int fd) => _fd = fd;

    public static BpfStatsScope Enable()
    {
        int fd = bpf_enable_stats(BpfStatsRunTime);
        if (fd < 0) throw new InvalidOperationException($"bpf_enable_stats failed: errno {-fd}");
        return new BpfStatsScope(fd);
    }

    public void Dispose()
    {
        if (_fd >= 0) close(_fd);
        _fd = -1;
    }

    [LibraryImport("libbpf.so.1")]
    private static partial int bpf_enable_stats(int type);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
