namespace Sonde.Metrics;

/// <summary>
/// One histogram series read at one instant: count, sum, classic buckets and
/// native buckets, all from the same set of observations (see
/// <see cref="HistogramSeries"/>). Values are in the family's exposed unit.
/// </summary>
public sealed class HistogramSnapshot
{
    internal HistogramSnapshot(long count, double sum, double[] bounds, string[] boundLabels, long[] bucketCounts,
        int schema, double zeroThreshold, long zeroCount, int[] nativeIndexes, long[] nativeCounts)
    {
        BoundLabels = boundLabels;
        Count = count;
        Sum = sum;
        Bounds = bounds;
        BucketCounts = bucketCounts;
        Schema = schema;
        ZeroThreshold = zeroThreshold;
        ZeroCount = zeroCount;
        NativeIndexes = nativeIndexes;
        NativeCounts = nativeCounts;
    }

    public long Count { get; }

    public double Sum { get; }

    /// <summary>Classic upper bounds (inclusive), ascending, without +Inf.</summary>
    public IReadOnlyList<double> Bounds { get; }

    /// <summary>The <c>le</c> label value of each bound, spelled the same in every format (see <see cref="GoFloat"/>).</summary>
    internal string[] BoundLabels { get; }

    /// <summary>Observations per classic bucket (not cumulative): Bounds.Count + 1 entries, the last above every bound.</summary>
    public IReadOnlyList<long> BucketCounts { get; }

    /// <summary>Native histogram schema (see <see cref="HistogramOptions.NativeSchema"/>).</summary>
    public int Schema { get; }

    public double ZeroThreshold { get; }

    /// <summary>Observations at or below <see cref="ZeroThreshold"/>.</summary>
    public long ZeroCount { get; }

    /// <summary>Indexes of the non-empty native buckets, ascending (Prometheus numbering).</summary>
    public IReadOnlyList<int> NativeIndexes { get; }

    /// <summary>Count of each bucket of <see cref="NativeIndexes"/>.</summary>
    public IReadOnlyList<long> NativeCounts { get; }

    /// <summary>Observations at or below <c>Bounds[bucket]</c> (the +Inf bucket when bucket is Bounds.Count).</summary>
    public long CumulativeCount(int bucket)
    {
        long total = 0;
        for (var i = 0; i <= bucket; i++) total += BucketCounts[i];
        return total;
    }
}
