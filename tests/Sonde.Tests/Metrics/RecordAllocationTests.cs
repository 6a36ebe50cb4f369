using Sonde.Metrics;
using Sonde.Tracing;

namespace Sonde.Tests.Metrics;

/// <summary>The consumer loop's hot path allocates nothing once a label set exists.</summary>
public sealed class RecordAllocationTests
{
    [Fact]
    public void Record_of_existing_series_allocates_nothing()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry, new HttpServerMetricsOptions { MaxRoutesPerService = 4 });
        var requests = new[]
        {
            new RequestViews("GET", "/users/42", "/users/:id", 200),
            new RequestViews("POST", "/cart/7/checkout", "/cart/:id/checkout", 500),
            new RequestViews("GET", "/", null, 200),
            new RequestViews("PATCH", "/raw/path", null, 204),
            new RequestViews("GET", "/past/the/cap/1", null, 200), // the 5th route: "other"
            new RequestViews("BREW", "/", null, 0),
        };
        string[] services = ["shop", "cart"];
        var durations = new ulong[] { 0, 1, 11_000, 1_100_000, 14_300_000, 2_000_000_000 };

        // First pass: creates every series, route and native chunk these requests touch.
        void Pass()
        {
            for (var i = 0; i < 6_000; i++)
                http.Record(services[i & 1], requests[i % requests.Length].View(durations[i / requests.Length % durations.Length]));
        }
        Pass();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (var n = 0; n < 20; n++) Pass();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        var all = registry.Collect().Families.Single(f => f.Family.Name == HttpServerMetrics.DurationName).Series;
        Assert.Equal(21 * 6_000, all.Sum(s => s.Histogram!.Count));
    }

    [Fact]
    public void Observe_and_counter_updates_allocate_nothing()
    {
        var registry = new MetricsRegistry();
        var histogram = registry.AddHistogram("x_seconds", "h", HistogramOptions.DurationSeconds, ["a"]).WithLabels("1");
        var counter = registry.AddCounter("c", "h", ["a"]);
        var gauge = registry.AddGauge("g", "h").WithLabels();
        for (ulong v = 1; v < 1UL << 40; v <<= 1) histogram.Observe(v); // touch every chunk once
        counter.WithLabels("k");

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (ulong i = 0; i < 100_000; i++)
        {
            histogram.Observe(i * 7919);
            counter.WithLabels("k").Increment();
            gauge.Add(0.5);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
