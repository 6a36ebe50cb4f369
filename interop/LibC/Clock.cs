namespace Sonde.Interop.LibC;

/// <summary>CLOCK_MONOTONIC, the clock bpf_ktime_get_ns() reads.</summary>
public static unsafe class Clock
{
    public static ulong MonotonicNs()
    {
        LibCNative.Timespec ts;
        LibCNative.clock_gettime(LibCNative.CLOCK_MONOTONIC, &ts);
        return (ulong)ts.Sec * 1_000_000_000UL + (ulong)ts.Nsec;
    }
}
