namespace Sonde.Bench;

/// <summary>What happened between two <see cref="Snapshot"/>s: what the bench prints.</summary>
internal readonly record struct Window(long Events, long Batches, double Seconds, double CpuSeconds, ulong Produced, ulong Failed,
    long ThreadBytes, long ProcessBytes, int Gcs)
{
    /// <summary>Drain mode: the part of <see cref="Seconds"/> spent in TryRead.</summary>
    public double ReadSeconds { get; init; }
}
