namespace Sonde.Tracing;

/// <summary>Counters kept by the BPF programs (bpf/http.h enum sonde_stat), summed over CPUs.</summary>
public readonly record struct TracerStats(
    ulong StartHits, ulong EndHits, ulong RouteHits, ulong Events, ulong Drops, ulong EndUnmatched, ulong StartNoConfig)
{
    /// <summary>Go scheduler probe hits (breakdown), for all goroutines.</summary>
    public ulong RuntimeHits { get; init; }
    /// <summary>Syscalls not kept because a request made more than 16 distinct ones.</summary>
    public ulong SyscallsLost { get; init; }
    /// <summary>grpc-go WriteStatus probe hits.</summary>
    public ulong GrpcStatusHits { get; init; }

    /// <summary>"3 with the ring buffer full, 1 unmatched end (…)": the losses that occurred, or "none".</summary>
    public string LostSummary
    {
        get
        {
            var parts = new List<string>();
            if (Drops > 0) parts.Add($"{Drops} with the ring buffer full");
            if (EndUnmatched > 0) parts.Add($"{EndUnmatched} unmatched {(EndUnmatched == 1 ? "end" : "ends")} (begun before attaching, or evicted)");
            if (StartNoConfig > 0) parts.Add($"{StartNoConfig} started before their binary's offsets were stored");
            if (SyscallsLost > 0) parts.Add($"{SyscallsLost} syscalls beyond the 16 kept per request");
            return parts.Count == 0 ? "none" : string.Join(", ", parts);
        }
    }

    /// <summary>Uprobe hits per captured request.</summary>
    public double HitsPerRequest => Events == 0 ? 0 : (double)(StartHits + EndHits + RouteHits + GrpcStatusHits) / Events;
}
