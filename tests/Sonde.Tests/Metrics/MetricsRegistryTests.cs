using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>Registry behaviour around collection: refresh callbacks, and the time stamps series carry.</summary>
public sealed class MetricsRegistryTests
{
    [Fact]
    public void Refresh_callbacks_run_before_every_collection_and_a_failing_one_is_counted()
    {
        var time = new FixedTime();
        var registry = new MetricsRegistry(time: time);
        var gauge = registry.AddGauge("fill_ratio", "g", unit: "ratio").WithLabels();
        int calls = 0;
        registry.AddRefresh(() => gauge.Set(++calls / 10.0));
        registry.AddRefresh(() => throw new IOException("fdinfo vanished"));

        registry.Collect();
        var snapshot = registry.Collect();
        Assert.Equal(2, calls);
        Assert.Equal(0.2, snapshot.Families.Single(f => f.Family.Name == "fill_ratio").Series.Single().Value);
        Assert.Equal(2, snapshot.Families.Single(f => f.Family.Name == "sonde_metric_refresh_errors").Series.Single().Value);
        Assert.Equal(time.Now.ToUnixTimeMilliseconds() * 1_000_000, snapshot.TimeUnixNano);
    }

    [Fact]
    public void Series_remember_when_they_were_created()
    {
        var time = new FixedTime();
        var registry = new MetricsRegistry(time: time);
        var family = registry.AddCounter("c", "h", ["k"]);
        family.WithLabels("early");
        time.Now += TimeSpan.FromMinutes(5);
        family.WithLabels("late");
        var created = registry.Collect().Families.Single(f => f.Family.Name == "c").Series.ToDictionary(s => s.LabelValues[0], s => s.CreatedUnixNano);
        Assert.Equal(5L * 60 * 1_000_000_000, created["late"] - created["early"]);
    }

    [Fact]
    public async Task An_endpoint_that_already_names_the_metrics_path_is_used_as_it_is()
    {
        var registry = new MetricsRegistry();
        await using var a = new OtlpMetricsExporter(registry, new OtlpExporterOptions { Endpoint = new Uri("https://otel.example:4318/") });
        await using var b = new OtlpMetricsExporter(registry, new OtlpExporterOptions { Endpoint = new Uri("https://otel.example/otlp/v1/metrics") });
        await using var c = new OtlpMetricsExporter(registry, new OtlpExporterOptions { Endpoint = new Uri("http://otel.example/prefix") });
        Assert.Equal("https://otel.example:4318/v1/metrics", a.ExportUri.ToString());
        Assert.Equal("https://otel.example/otlp/v1/metrics", b.ExportUri.ToString());
        Assert.Equal("http://otel.example/prefix/v1/metrics", c.ExportUri.ToString());
    }
}
