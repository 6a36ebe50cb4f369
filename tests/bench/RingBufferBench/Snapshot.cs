using System.Diagnostics;

namespace Sonde.Bench;

/// <summary>Counters at one instant; two of them make a <see cref="Window"/>. Taking one allocates nothing.</summary>
internal readonly record struct Snapshot(long Timestamp, TimeSpan Cpu, long Events, long Batches, ulong Produced, ulong Failed,
    long ThreadBytes, long ProcessBytes, int Gcs)
{
    public static Snapshot Take(BenchRing ring, ReaderLoop loop, RecordTally tally) => new(
        Stopwatch.GetTimestamp(), Environment.CpuUsage.TotalTime, tally.Consumed, loop.Batches, ring.Produced, ring.Failed,
        loop.ThreadBytes, GC.GetTotalAllocatedBytes(precise: true), GC.CollectionCount(0));

    public static Window operator -(Snapshot b, Snapshot a) => new(
        b.Events - a.Events, b.Batches - a.Batches, (double)(b.Timestamp - a.Timestamp) / Stopwatch.Frequency, (b.Cpu - a.Cpu).TotalSeconds,
        b.Produced - a.Produced, b.Failed - a.Failed, b.ThreadBytes - a.ThreadBytes, b.ProcessBytes - a.ProcessBytes, b.Gcs - a.Gcs);
}
