namespace Sonde.Tracing;

/// <summary>Counters kept by the BPF programs (bpf/http.h enum sonde_stat), summed over CPUs.</summary>
public readonly record struct TracerStats(
    ulong StartHits, ulong EndHits, ulong GinHits, ulong Events, ulong Drops, ulong EndUnmatched, ulong StartNoConfig)
{
    /// <summary>Uprobe hits per captured request.</summary>
    public double HitsPerRequest => Events == 0 ? 0 : (double)(StartHits + EndHits + GinHits) / Events;
}
