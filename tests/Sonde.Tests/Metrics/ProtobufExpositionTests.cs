using Sonde.Metrics;
using MetricFamily = Sonde.Metrics.Proto.Prometheus.MetricFamily;

namespace Sonde.Tests.Metrics;

/// <summary>The protobuf format read back with the generated client_model types: classic and native buckets in one message.</summary>
public sealed class ProtobufExpositionTests
{
    private static List<MetricFamily> Scrape(MetricsRegistry registry) =>
        ScrapeParsing.ParseDelimited(MetricsExposition.ToBytes(registry.Collect(), ExpositionFormat.Protobuf));

    [Fact]
    public void Round_trip_keeps_names_types_labels_and_classic_buckets()
    {
        var families = Scrape(GoldenRegistry.Create());
        Assert.Equal(["sonde_metric_refresh_errors_total", "test_latency_seconds", "test_requests_total", "test_temperature_celsius"],
            families.Select(f => f.Name));

        var requests = families.Single(f => f.Name == "test_requests_total");
        Assert.Equal(Sonde.Metrics.Proto.Prometheus.MetricType.Counter, requests.Type);
        Assert.Equal("Requests \\ with \"quotes\"\nand a newline.", requests.Help);
        Assert.Equal("/a\\b\"c\nd", requests.Metric[0].Label.Single(l => l.Name == "path").Value);
        Assert.Equal(3, requests.Metric[0].Counter.Value);
        Assert.Equal(FixedTime.Epoch2025.ToUnixTimeSeconds(), requests.Metric[0].Counter.CreatedTimestamp.Seconds);

        var gauge = families.Single(f => f.Name == "test_temperature_celsius");
        Assert.Equal(-1.5, gauge.Metric.Single().Gauge.Value);
        Assert.Equal("celsius", gauge.Unit);

        var latency = families.Single(f => f.Name == "test_latency_seconds");
        Assert.Equal(Sonde.Metrics.Proto.Prometheus.MetricType.Histogram, latency.Type);
        var b = latency.Metric.Single(m => m.Label.Single().Value == "/b").Histogram;
        Assert.Equal(4UL, b.SampleCount);
        Assert.Equal(2.0215, b.SampleSum, 12);
        Assert.Equal([0.001, 0.01, 0.1], b.Bucket.Select(x => x.UpperBound));
        Assert.Equal([2UL, 2UL, 3UL], b.Bucket.Select(x => x.CumulativeCount));
    }

    [Fact]
    public void Native_buckets_of_known_values_have_hand_computed_indexes()
    {
        var b = Scrape(GoldenRegistry.Create()).Single(f => f.Name == "test_latency_seconds")
            .Metric.Single(m => m.Label.Single().Value == "/b").Histogram;
        Assert.Equal(3, b.Schema);
        Assert.Equal(HistogramOptions.DefaultZeroThreshold, b.ZeroThreshold);
        Assert.Equal(0UL, b.ZeroCount);
        // 0.0005 s → ceil(8·log2 0.0005) = -87; 0.001 → -79; 0.02 → -45; 2 → 8.
        var buckets = ScrapeParsing.NativeBuckets(b);
        Assert.Equal(new SortedDictionary<int, long> { [-87] = 1, [-79] = 1, [-45] = 1, [8] = 1 }, buckets);
        // Gaps of 7, 33 and 52 empty buckets are new spans.
        Assert.Equal([(-87, 1u), (7, 1u), (33, 1u), (52, 1u)], b.PositiveSpan.Select(s => (s.Offset, s.Length)));
        Assert.Equal([1L, 0L, 0L, 0L], b.PositiveDelta);
    }

    [Fact]
    public void Small_gaps_are_filled_with_zero_buckets_and_large_ones_start_a_span()
    {
        var registry = new MetricsRegistry();
        var h = registry.AddHistogram("x", "schema 0", new HistogramOptions { NativeSchema = 0, Bounds = [1] }).WithLabels();
        // Schema 0 indexes: 1 → 0, 2 → 1, 8 → 3, 64 → 6, 1024 → 10, 0 → zero bucket.
        foreach (var (value, times) in new (ulong, int)[] { (1, 2), (2, 1), (8, 3), (64, 1), (1024, 1), (0, 2) })
            for (var i = 0; i < times; i++) h.Observe(value);

        var histogram = Scrape(registry).Single(f => f.Name == "x").Metric.Single().Histogram;
        // Buckets 0..6 = [2,1,0,3,0,0,1] (gaps of 1 and 2 filled), then a gap of 3: new span.
        Assert.Equal([(0, 7u), (3, 1u)], histogram.PositiveSpan.Select(s => (s.Offset, s.Length)));
        Assert.Equal([2L, -1L, -1L, 3L, -3L, 0L, 1L, 0L], histogram.PositiveDelta);
        Assert.Equal(2UL, histogram.ZeroCount);
        Assert.Equal(10UL, histogram.SampleCount);
        Assert.Equal(2 + 2 + 24 + 64 + 1024, histogram.SampleSum);
        Assert.Equal([4UL], histogram.Bucket.Select(x => x.CumulativeCount)); // 0, 0, 1, 1 are ≤ 1
    }

    [Fact]
    public void A_histogram_without_observations_is_still_native()
    {
        var registry = new MetricsRegistry();
        registry.AddHistogram("empty_seconds", "h", HistogramOptions.DurationSeconds, ["a"]).WithLabels("x");
        var h = Scrape(registry).Single(f => f.Name == "empty_seconds").Metric.Single().Histogram;
        Assert.Equal(0UL, h.SampleCount);
        // Prometheus 2.42 needs a positive zero threshold to see a native histogram;
        // the no-op span is the specification's marker for the same case.
        Assert.True(h.ZeroThreshold > 0);
        Assert.Equal([(0, 0u)], h.PositiveSpan.Select(s => (s.Offset, s.Length)));
        Assert.Equal(HistogramOptions.HttpDurationBounds, h.Bucket.Select(x => x.UpperBound));
    }

    [Fact]
    public void Native_buckets_agree_with_classic_buckets_and_count()
    {
        var registry = new MetricsRegistry();
        var series = registry.AddHistogram("r_seconds", "h", HistogramOptions.DurationSeconds).WithLabels();
        var random = new Random(11);
        var values = Enumerable.Range(0, 20_000).Select(_ => (ulong)Math.Exp(random.NextDouble() * 22)).ToList();
        foreach (var v in values) series.Observe(v);

        var h = Scrape(registry).Single(f => f.Name == "r_seconds").Metric.Single().Histogram;
        var native = ScrapeParsing.NativeBuckets(h);
        Assert.Equal(h.SampleCount, (ulong)native.Values.Sum() + h.ZeroCount);
        Assert.Equal((ulong)values.Count(v => v == 0), h.ZeroCount);
        foreach (var (index, count) in native)
        {
            double upper = Math.Pow(2, index / 8.0), lower = Math.Pow(2, (index - 1) / 8.0);
            long expected = values.Count(v => v != 0 && v / 1e9 <= upper * (1 + 1e-12) && v / 1e9 > lower * (1 + 1e-12));
            Assert.Equal(expected, count);
        }
        for (var i = 0; i < h.Bucket.Count; i++)
            Assert.Equal((ulong)values.Count(v => v <= (ulong)Math.Round(h.Bucket[i].UpperBound * 1e9)), h.Bucket[i].CumulativeCount);
        Assert.Equal(values.Sum(v => (double)v) / 1e9, h.SampleSum, 6);
    }
}
