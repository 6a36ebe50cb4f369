namespace Sonde.Tracing;

/// <summary>Counters kept by the BPF programs (bpf/http.h enum sonde_stat), summed over CPUs.</summary>
public readonly record struct TracerStats(
    ulong StartHits, ulong EndHits, ulong RouteHits, ulong Events, ulong Drops, ulong EndUnmatched, ulong StartNoConfig)
{
    /// <summary>Go scheduler probe hits (breakdown), for all goroutines.</summary>
    public ulong RuntimeHits { get; init; }
    /// <summary>Syscalls not kept because a request made more than 16 distinct ones.</summary>
    public ulong SyscallsLost { get; init; }

    /// <summary>Uprobe hits per captured request.</summary>
    public double HitsPerRequest => Events == 0 ? 0 : (double)(StartHits + EndHits + RouteHits) / Events;
}
