using System.Numerics;

namespace Sonde.Aggregation;

/// <summary>
/// Request latencies in nanoseconds: exact count, sum, min and max, percentiles
/// from log-linear buckets, and the log2 buckets the summary draws as bars.
/// </summary>
/// <remarks>
/// <para>
/// Bucketing: values below 32 ns have one bucket each (exact). From 32 ns up,
/// every power of two [2^k, 2^(k+1)) is split into 32 equal sub-buckets of width
/// 2^(k-5), so a bucket is never wider than 1/32 of its lower edge. A
/// percentile is reported as its bucket's midpoint (clamped to the exact min
/// and max), which is within <b>1/64 (1.6 %)</b> of the true value; see
/// <see cref="MaxRelativeError"/>. 1,920 buckets cover the whole ulong range
/// (15 KiB per histogram).
/// </para>
/// <para>
/// The log2 buckets are unions of whole sub-bucket ranges, so they are exact:
/// bucket k holds exactly the values in [2^k, 2^(k+1)). Two histograms merge
/// without loss (bucket by bucket), which is what later exporters need.
/// </para>
/// <para>
/// <see cref="Record"/> does not allocate. Not thread-safe: one histogram
/// belongs to one consumer thread; merge copies across threads.
/// </para>
/// </remarks>
public sealed class LatencyHistogram
{
    /// <summary>Sub-buckets per power of two, as a power of two (2^5 = 32).</summary>
    private const int SubBucketBits = 5;
    private const int SubBucketCount = 1 << SubBucketBits;
    /// <summary>Values below this have one bucket each.</summary>
    private const ulong LinearLimit = SubBucketCount;
    /// <summary>32 exact buckets, then 32 sub-buckets for each k in 5..63.</summary>
    internal const int BucketCount = SubBucketCount + (64 - SubBucketBits) * SubBucketCount;

    /// <summary>Largest relative distance between a reported percentile and the true one.</summary>
    public const double MaxRelativeError = 1.0 / (2 * SubBucketCount);

    private readonly long[] _buckets = new long[BucketCount];
    private ulong _min = ulong.MaxValue;

    /// <summary>Number of values recorded.</summary>
    public long Count { get; private set; }

    /// <summary>Exact sum of the values (128 bits: a long-running daemon's sum overflows 64).</summary>
    public UInt128 SumNs { get; private set; }

    /// <summary>Smallest value recorded; 0 when empty.</summary>
    public ulong MinNs => Count == 0 ? 0 : _min;

    /// <summary>Largest value recorded; 0 when empty.</summary>
    public ulong MaxNs { get; private set; }

    /// <summary>Arithmetic mean; 0 when empty.</summary>
    public double MeanNs => Count == 0 ? 0 : (double)SumNs / Count;

    /// <summary>Adds one duration. Allocation-free.</summary>
    public void Record(ulong durationNs)
    {
        _buckets[BucketIndex(durationNs)]++;
        Count++;
        SumNs += durationNs;
        if (durationNs > MaxNs) MaxNs = durationNs;
        if (durationNs < _min) _min = durationNs;
    }

    /// <summary>Adds every value of <paramref name="other"/> to this histogram.</summary>
    public void Merge(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Count == 0) return;
        for (var i = 0; i < BucketCount; i++) _buckets[i] += other._buckets[i];
        Count += other.Count;
        SumNs += other.SumNs;
        if (other.MaxNs > MaxNs) MaxNs = other.MaxNs;
        if (other._min < _min) _min = other._min;
    }

    /// <summary>
    /// The value at <paramref name="percent"/> (0–100) by nearest rank: the
    /// smallest recorded value with at least that share of values at or below
    /// it, within <see cref="MaxRelativeError"/>. 0 when empty; 0 and 100 give
    /// the exact min and max.
    /// </summary>
    public ulong Percentile(double percent)
    {
        if (percent is < 0 or > 100 || double.IsNaN(percent))
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "must be within 0..100");
        if (Count == 0) return 0;
        if (percent == 0) return MinNs;
        if (percent == 100) return MaxNs;

        var rank = (long)Math.Ceiling(percent / 100 * Count);
        if (rank < 1) rank = 1;
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += _buckets[i];
            if (seen >= rank)
            {
                var (lower, width) = BucketRange(i);
                var midpoint = lower + width / 2;
                return Math.Clamp(midpoint, MinNs, MaxNs);
            }
        }
        return MaxNs; // unreachable: the buckets add up to Count
    }

    /// <summary>
    /// Count of values in [2^k, 2^(k+1)) ns for <paramref name="exponent"/> k in
    /// 0..63; exponent −1 is the bucket of zero-length durations [0, 1).
    /// </summary>
    public long Log2Count(int exponent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(exponent, -1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(exponent, 63);
        if (exponent == -1) return _buckets[0];
        if (exponent < SubBucketBits)
        {
            long sum = 0;
            for (var v = 1 << exponent; v < 2 << exponent; v++) sum += _buckets[v];
            return sum;
        }
        var first = BucketIndex(1UL << exponent);
        long total = 0;
        for (var i = first; i < first + SubBucketCount; i++) total += _buckets[i];
        return total;
    }

    /// <summary>
    /// The log2 buckets from the lowest to the highest non-empty one, empty ones
    /// between included (the way bpftrace's <c>hist</c> draws). Empty when no
    /// value was recorded. Allocates; meant for rendering and export.
    /// </summary>
    public IReadOnlyList<Log2Bucket> Log2Buckets()
    {
        if (Count == 0) return [];
        var low = Log2Exponent(MinNs);
        var high = Log2Exponent(MaxNs);
        var result = new Log2Bucket[high - low + 1];
        for (var e = low; e <= high; e++)
        {
            var lower = e < 0 ? 0 : 1UL << e;
            var upper = e < 0 ? 1 : e == 63 ? ulong.MaxValue : 2UL << e;
            result[e - low] = new Log2Bucket(lower, upper, Log2Count(e));
        }
        return result;
    }

    /// <summary>k such that value is in [2^k, 2^(k+1)); −1 for zero.</summary>
    internal static int Log2Exponent(ulong value) => value == 0 ? -1 : BitOperations.Log2(value);

    internal static int BucketIndex(ulong value)
    {
        if (value < LinearLimit) return (int)value;
        var k = BitOperations.Log2(value); // >= SubBucketBits
        var sub = (int)(value >> (k - SubBucketBits)) & (SubBucketCount - 1);
        return ((k - SubBucketBits + 1) << SubBucketBits) + sub;
    }

    /// <summary>Lower edge and width of bucket <paramref name="index"/>.</summary>
    internal static (ulong Lower, ulong Width) BucketRange(int index)
    {
        if (index < SubBucketCount) return ((ulong)index, 1);
        var k = (index >> SubBucketBits) + SubBucketBits - 1;
        var sub = (ulong)(index & (SubBucketCount - 1));
        var shift = k - SubBucketBits;
        return ((SubBucketCount + sub) << shift, 1UL << shift);
    }
}
