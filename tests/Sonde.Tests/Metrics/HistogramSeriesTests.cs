using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>One histogram series: what it counts where, and its exact sum.</summary>
public sealed class HistogramSeriesTests
{
    private static HistogramSnapshot Snapshot(HistogramSeries series, MetricsRegistry registry) =>
        registry.Collect().Families.SelectMany(f => f.Series).Single(s => s.Histogram is not null).Histogram!;

    [Fact]
    public void Classic_bounds_are_inclusive_in_integer_nanoseconds()
    {
        var registry = new MetricsRegistry();
        var series = registry.AddHistogram("d_seconds", "h", HistogramOptions.DurationSeconds).WithLabels();
        series.Observe(100_000);     // exactly 0.0001 s
        series.Observe(100_001);
        series.Observe(5_000_000);   // exactly 0.005 s
        series.Observe(10_000_000_001); // above 10 s
        var h = Snapshot(series, registry);
        var bounds = HistogramOptions.HttpDurationBounds;
        Assert.Equal(1, h.BucketCounts[0]);                                  // le 0.0001
        Assert.Equal(1, h.BucketCounts[1]);                                  // le 0.00025
        Assert.Equal(1, h.BucketCounts[IndexOf(bounds, 0.005)]);
        Assert.Equal(1, h.BucketCounts[bounds.Count]);                       // +Inf only
        Assert.Equal(4, h.CumulativeCount(bounds.Count));
        Assert.Equal(3, h.CumulativeCount(IndexOf(bounds, 10)));
    }

    [Fact]
    public void Zero_goes_to_the_zero_bucket_and_one_nanosecond_does_not()
    {
        var registry = new MetricsRegistry();
        var series = registry.AddHistogram("d_seconds", "h", HistogramOptions.DurationSeconds).WithLabels();
        series.Observe(0);
        series.Observe(0);
        series.Observe(1);
        var h = Snapshot(series, registry);
        Assert.Equal(2, h.ZeroCount);
        Assert.Equal([-239], h.NativeIndexes); // 1e-9 s: ceil(8·log2 1e-9) = ceil(-239.18)
        Assert.Equal(3, h.Count);
        Assert.Equal(1e-9, h.Sum);
    }

    [Fact]
    public void The_sum_is_exact_beyond_64_bits_of_nanoseconds()
    {
        var registry = new MetricsRegistry();
        var series = registry.AddHistogram("d_seconds", "h", HistogramOptions.DurationSeconds).WithLabels();
        for (var i = 0; i < 4; i++) series.Observe(ulong.MaxValue);
        var h = Snapshot(series, registry);
        Assert.Equal(4 * (double)ulong.MaxValue / 1e9, h.Sum, 1e-6 * h.Sum);
        Assert.Equal(4, h.Count);
        Assert.Equal(4, h.BucketCounts[^1]);
    }

    [Fact]
    public void Invalid_layouts_are_refused()
    {
        var registry = new MetricsRegistry();
        Assert.Throws<ArgumentException>(() => registry.AddHistogram("a", "h", new HistogramOptions { Bounds = [1, 1] }));
        Assert.Throws<ArgumentOutOfRangeException>(() => registry.AddHistogram("b", "h", new HistogramOptions { NativeSchema = 9 }));
        Assert.Throws<ArgumentException>(() => registry.AddHistogram("c_seconds", "h", new HistogramOptions { Unit = "bytes" }));
        Assert.Throws<ArgumentException>(() => registry.AddHistogram("d", "h", new HistogramOptions(), ["le"]));
        Assert.Throws<ArgumentException>(() => registry.AddHistogram("bad-name", "h", new HistogramOptions()));
        registry.AddCounter("e", "h");
        Assert.Throws<ArgumentException>(() => registry.AddGauge("e_total", "h"));
        // The same definition again is the same family (an exporter recreated on reload).
        Assert.Same(registry.AddCounter("f_total", "h", ["x"]), registry.AddCounter("f", "h", ["x"]));
    }

    private static int IndexOf(IReadOnlyList<double> bounds, double bound) => bounds.ToList().IndexOf(bound);
}
