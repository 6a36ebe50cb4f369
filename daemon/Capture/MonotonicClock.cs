using System.Diagnostics;

namespace Sonde.Capture;

/// <summary>
/// CLOCK_MONOTONIC in nanoseconds, the clock BPF's <c>bpf_ktime_get_ns</c>
/// reads: on Linux, .NET's <see cref="Stopwatch"/> is
/// <c>clock_gettime(CLOCK_MONOTONIC)</c> with a 1 GHz frequency.
/// </summary>
internal static class MonotonicClock
{
    public static ulong NowNs()
    {
        var ticks = Stopwatch.GetTimestamp();
        return Stopwatch.Frequency == 1_000_000_000
            ? (ulong)ticks
            : (ulong)(ticks * (1_000_000_000.0 / Stopwatch.Frequency));
    }
}
