using System.Text;
using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>The two text formats, byte for byte, and the histogram invariants they must keep.</summary>
public sealed class TextExpositionTests
{
    private static string Render(MetricsRegistry registry, ExpositionFormat format) =>
        Encoding.UTF8.GetString(MetricsExposition.ToBytes(registry.Collect(), format));

    [Fact]
    public void Prometheus_text_0_0_4_matches_the_golden_output() =>
        Assert.Equal(GoldenRegistry.PrometheusText.ReplaceLineEndings("\n"), Render(GoldenRegistry.Create(), ExpositionFormat.PrometheusText));

    [Fact]
    public void OpenMetrics_matches_the_golden_output_and_ends_with_eof()
    {
        var text = Render(GoldenRegistry.Create(), ExpositionFormat.OpenMetrics);
        Assert.Equal(GoldenRegistry.OpenMetrics.ReplaceLineEndings("\n"), text);
        Assert.EndsWith("\n# EOF\n", text);
    }

    [Fact]
    public void Buckets_are_cumulative_and_inf_equals_count_for_every_series()
    {
        var registry = new MetricsRegistry();
        var family = registry.AddHistogram("req_seconds", "h", HistogramOptions.DurationSeconds, ["k"]);
        var random = new Random(3);
        for (var s = 0; s < 5; s++)
        {
            var series = family.WithLabels("s" + s);
            for (var i = 0; i < 1000; i++) series.Observe((ulong)(Math.Exp(random.NextDouble() * 20) * 1000));
        }
        var lines = Render(registry, ExpositionFormat.PrometheusText).Split('\n');
        for (var s = 0; s < 5; s++)
        {
            string label = $"k=\"s{s}\"";
            var buckets = lines.Where(l => l.StartsWith("req_seconds_bucket{" + label, StringComparison.Ordinal))
                .Select(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(HistogramOptions.HttpDurationBounds.Count + 1, buckets.Count);
            for (var i = 1; i < buckets.Count; i++) Assert.True(buckets[i] >= buckets[i - 1], "buckets must be cumulative");
            var count = lines.Single(l => l.StartsWith("req_seconds_count{" + label, StringComparison.Ordinal));
            Assert.Equal(1000, buckets[^1]);
            Assert.EndsWith(" 1000", count);
            Assert.Contains(lines, l => l.StartsWith("req_seconds_bucket{" + label + ",le=\"+Inf\"} 1000", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Le_values_are_spelled_the_same_in_both_text_formats()
    {
        var registry = new MetricsRegistry();
        registry.AddHistogram("d_seconds", "h", HistogramOptions.DurationSeconds).WithLabels().Observe(1);
        static List<string> Les(string text) => [.. text.Split('\n').Where(l => l.Contains("le=\"", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("le=\"", StringComparison.Ordinal) + 4)..l.IndexOf("\"}", StringComparison.Ordinal)])];
        var text = Les(Render(registry, ExpositionFormat.PrometheusText));
        var om = Les(Render(registry, ExpositionFormat.OpenMetrics));
        Assert.Equal(text, om);
        Assert.Equal(["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75",
            "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf"], text);
    }

    [Fact]
    public void Families_without_series_are_not_exposed()
    {
        var registry = new MetricsRegistry();
        registry.AddCounter("unused", "never touched", ["x"]);
        registry.AddHistogram("unused_hist_seconds", "never touched", HistogramOptions.DurationSeconds, ["x"]);
        var text = Render(registry, ExpositionFormat.PrometheusText);
        Assert.DoesNotContain("unused", text);
        Assert.DoesNotContain(ScrapeParsing.ParseDelimited(MetricsExposition.ToBytes(registry.Collect(), ExpositionFormat.Protobuf)),
            f => f.Name.StartsWith("unused", StringComparison.Ordinal));
    }
}
