using Sonde.Aggregation;

namespace Sonde.Tests.Aggregation;

public class LatencyHistogramTests
{
    [Fact]
    public void Log2BucketsHaveEdgesAtPowersOfTwo()
    {
        for (var k = 0; k < 63; k++)
        {
            var h = new LatencyHistogram();
            var lower = 1UL << k;
            var upper = 2UL << k;
            h.Record(lower);
            h.Record(upper - 1);
            h.Record(upper);

            Assert.Equal(2, h.Log2Count(k));
            Assert.Equal(1, h.Log2Count(k + 1));
            if (k > 0) Assert.Equal(0, h.Log2Count(k - 1));

            var buckets = h.Log2Buckets();
            Assert.Equal(2, buckets.Count);
            Assert.Equal(new Log2Bucket(lower, upper, 2), buckets[0]);
            Assert.Equal(new Log2Bucket(upper, k + 1 == 63 ? ulong.MaxValue : upper * 2, 1), buckets[1]);
        }
    }

    [Fact]
    public void ZeroHasItsOwnBucketAndTheTopBucketSaturates()
    {
        var h = new LatencyHistogram();
        h.Record(0);
        h.Record(ulong.MaxValue);
        Assert.Equal(1, h.Log2Count(-1));
        Assert.Equal(1, h.Log2Count(63));
        var buckets = h.Log2Buckets();
        Assert.Equal(65, buckets.Count); // contiguous from [0,1) to [2^63, max)
        Assert.Equal(new Log2Bucket(0, 1, 1), buckets[0]);
        Assert.Equal(new Log2Bucket(1UL << 63, ulong.MaxValue, 1), buckets[^1]);
        Assert.All(buckets.Skip(1).SkipLast(1), b => Assert.Equal(0, b.Count));
        Assert.Equal(ulong.MaxValue, h.MaxNs);
        Assert.Equal(0UL, h.MinNs);
    }

    [Fact]
    public void Log2BucketsListEmptyBucketsBetweenLowestAndHighest()
    {
        var h = new LatencyHistogram();
        h.Record(1_000);      // [2^9, 2^10)
        h.Record(1_000_000);  // [2^19, 2^20)
        var buckets = h.Log2Buckets();
        Assert.Equal(512UL, buckets[0].LowerNs);
        Assert.Equal(1UL << 20, buckets[^1].UpperNs);
        Assert.Equal(20 - 9, buckets.Count);
        Assert.Equal(2, buckets.Sum(b => b.Count));
        for (var i = 1; i < buckets.Count; i++) Assert.Equal(buckets[i - 1].UpperNs, buckets[i].LowerNs);
    }

    [Fact]
    public void CountSumMinMaxAreExact()
    {
        var h = new LatencyHistogram();
        ulong[] values = [17, 3, 1_000_003, 999, 12_345_678_901];
        foreach (var v in values) h.Record(v);
        Assert.Equal(values.Length, h.Count);
        Assert.Equal((UInt128)values.Aggregate(0UL, (a, b) => a + b), h.SumNs);
        Assert.Equal(3UL, h.MinNs);
        Assert.Equal(12_345_678_901UL, h.MaxNs);
        Assert.Equal(values.Average(v => (double)v), h.MeanNs, 6);
    }

    [Fact]
    public void SumDoesNotOverflowSixtyFourBits()
    {
        var h = new LatencyHistogram();
        h.Record(ulong.MaxValue);
        h.Record(ulong.MaxValue);
        Assert.Equal((UInt128)ulong.MaxValue * 2, h.SumNs);
    }

    [Fact]
    public void EmptyHistogramAnswersZero()
    {
        var h = new LatencyHistogram();
        Assert.Equal(0UL, h.Percentile(50));
        Assert.Equal(0UL, h.MaxNs);
        Assert.Equal(0UL, h.MinNs);
        Assert.Empty(h.Log2Buckets());
        Assert.Throws<ArgumentOutOfRangeException>(() => h.Percentile(101));
        Assert.Throws<ArgumentOutOfRangeException>(() => h.Percentile(double.NaN));
    }

    [Fact]
    public void SmallValuesAreExact()
    {
        var h = new LatencyHistogram();
        for (ulong v = 0; v < 32; v++) h.Record(v);
        for (var p = 1; p <= 100; p++)
        {
            var rank = (int)Math.Ceiling(p / 100.0 * 32);
            Assert.Equal((ulong)(rank - 1), h.Percentile(p));
        }
    }

    [Theory]
    [InlineData(1, 1_000, 10_000_000_000)]        // 1 µs .. 10 s, log-uniform
    [InlineData(2, 50, 5_000)]                     // ns scale, crosses the exact range
    [InlineData(3, 1_000_000, 1_050_000)]          // narrow: every value in one power of two
    public void PercentilesAreWithinTheDocumentedErrorOfAnExactSort(int seed, double low, double high)
    {
        var random = new Random(seed);
        var values = new ulong[20_000];
        for (var i = 0; i < values.Length; i++)
            values[i] = (ulong)Math.Exp(Math.Log(low) + random.NextDouble() * (Math.Log(high) - Math.Log(low)));
        var h = new LatencyHistogram();
        foreach (var v in values) h.Record(v);
        Array.Sort(values);

        foreach (var p in new[] { 0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100 })
        {
            var rank = Math.Max(1, (long)Math.Ceiling(p / 100 * values.Length));
            var exact = values[rank - 1];
            var estimate = h.Percentile(p);
            var error = Math.Abs((double)estimate - exact) / exact;
            Assert.True(error <= LatencyHistogram.MaxRelativeError,
                $"p{p}: estimate {estimate} vs exact {exact}, relative error {error:P3}");
        }
        Assert.Equal(values[^1], h.Percentile(100));
        Assert.Equal(values[0], h.Percentile(0));
    }

    [Fact]
    public void MergeEqualsRecordingEverythingInOne()
    {
        var random = new Random(7);
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        var all = new LatencyHistogram();
        for (var i = 0; i < 10_000; i++)
        {
            var v = (ulong)random.NextInt64(1, 1L << 40);
            (i % 3 == 0 ? a : b).Record(v);
            all.Record(v);
        }
        a.Merge(b);
        Assert.Equal(all.Count, a.Count);
        Assert.Equal(all.SumNs, a.SumNs);
        Assert.Equal(all.MinNs, a.MinNs);
        Assert.Equal(all.MaxNs, a.MaxNs);
        Assert.Equal(all.Log2Buckets(), a.Log2Buckets());
        foreach (var p in new[] { 1.0, 50, 90, 99, 99.9 }) Assert.Equal(all.Percentile(p), a.Percentile(p));

        var empty = new LatencyHistogram();
        empty.Merge(all);
        Assert.Equal(all.MinNs, empty.MinNs);
        all.Merge(new LatencyHistogram());
        Assert.Equal(a.Count, all.Count);
    }

    [Fact]
    public void RecordDoesNotAllocate()
    {
        var h = new LatencyHistogram();
        for (var i = 0; i < 1_000; i++) h.Record((ulong)i * 7919);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100_000; i++) h.Record((ulong)i * 104729);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
