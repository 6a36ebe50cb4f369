using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>
/// A small registry whose exposition is known by heart: a counter whose help
/// and label value need every escape, a gauge with a unit, and a histogram
/// with two series, one of them with a value exactly on a bound.
/// </summary>
public static class GoldenRegistry
{
    public static readonly HistogramOptions LatencyOptions = new()
    {
        Bounds = [0.001, 0.01, 0.1], ValueDivisor = 1_000_000_000, Unit = "seconds",
    };

    public static MetricsRegistry Create()
    {
        var registry = new MetricsRegistry(time: new FixedTime());
        var requests = registry.AddCounter("test_requests_total", "Requests \\ with \"quotes\"\nand a newline.", ["path"]);
        requests.WithLabels("/a\\b\"c\nd").Add(3);
        requests.WithLabels("/plain").Increment();
        registry.AddGauge("test_temperature_celsius", "A gauge.", unit: "celsius").WithLabels().Set(-1.5);
        var latency = registry.AddHistogram("test_latency_seconds", "Latency.", LatencyOptions, ["route"]);
        var b = latency.WithLabels("/b");
        b.Observe(500_000);          // 0.5 ms
        b.Observe(1_000_000);        // exactly 1 ms: le="0.001" is inclusive
        b.Observe(20_000_000);       // 20 ms
        b.Observe(2_000_000_000);    // 2 s: only +Inf
        latency.WithLabels("/a").Observe(5_000_000);
        return registry;
    }

    public const string PrometheusText = """
        # HELP sonde_metric_refresh_errors_total Collection callbacks that threw; the scrape went on with the values they had set before.
        # TYPE sonde_metric_refresh_errors_total counter
        sonde_metric_refresh_errors_total 0
        # HELP test_latency_seconds Latency.
        # TYPE test_latency_seconds histogram
        test_latency_seconds_bucket{route="/a",le="0.001"} 0
        test_latency_seconds_bucket{route="/a",le="0.01"} 1
        test_latency_seconds_bucket{route="/a",le="0.1"} 1
        test_latency_seconds_bucket{route="/a",le="+Inf"} 1
        test_latency_seconds_sum{route="/a"} 0.005
        test_latency_seconds_count{route="/a"} 1
        test_latency_seconds_bucket{route="/b",le="0.001"} 2
        test_latency_seconds_bucket{route="/b",le="0.01"} 2
        test_latency_seconds_bucket{route="/b",le="0.1"} 3
        test_latency_seconds_bucket{route="/b",le="+Inf"} 4
        test_latency_seconds_sum{route="/b"} 2.0215
        test_latency_seconds_count{route="/b"} 4
        # HELP test_requests_total Requests \\ with "quotes"\nand a newline.
        # TYPE test_requests_total counter
        test_requests_total{path="/a\\b\"c\nd"} 3
        test_requests_total{path="/plain"} 1
        # HELP test_temperature_celsius A gauge.
        # TYPE test_temperature_celsius gauge
        test_temperature_celsius -1.5

        """;

    public const string OpenMetrics = """
        # TYPE sonde_metric_refresh_errors counter
        # HELP sonde_metric_refresh_errors Collection callbacks that threw; the scrape went on with the values they had set before.
        sonde_metric_refresh_errors_total 0
        # TYPE test_latency_seconds histogram
        # UNIT test_latency_seconds seconds
        # HELP test_latency_seconds Latency.
        test_latency_seconds_bucket{route="/a",le="0.001"} 0
        test_latency_seconds_bucket{route="/a",le="0.01"} 1
        test_latency_seconds_bucket{route="/a",le="0.1"} 1
        test_latency_seconds_bucket{route="/a",le="+Inf"} 1
        test_latency_seconds_sum{route="/a"} 0.005
        test_latency_seconds_count{route="/a"} 1
        test_latency_seconds_bucket{route="/b",le="0.001"} 2
        test_latency_seconds_bucket{route="/b",le="0.01"} 2
        test_latency_seconds_bucket{route="/b",le="0.1"} 3
        test_latency_seconds_bucket{route="/b",le="+Inf"} 4
        test_latency_seconds_sum{route="/b"} 2.0215
        test_latency_seconds_count{route="/b"} 4
        # TYPE test_requests counter
        # HELP test_requests Requests \\ with \"quotes\"\nand a newline.
        test_requests_total{path="/a\\b\"c\nd"} 3
        test_requests_total{path="/plain"} 1
        # TYPE test_temperature_celsius gauge
        # UNIT test_temperature_celsius celsius
        # HELP test_temperature_celsius A gauge.
        test_temperature_celsius -1.5
        # EOF

        """;
}
