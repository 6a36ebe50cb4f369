using System.Diagnostics;
using Sonde.Metrics;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Metrics;

/// <summary>
/// A real Prometheus (Debian's 2.42) scrapes Sonde's endpoint, twice over:
/// one server as shipped, which negotiates OpenMetrics and stores classic
/// buckets, and one with <c>--enable-feature=native-histograms</c>, which
/// negotiates protobuf and stores native histograms. Both must count exactly
/// and answer quantiles consistent with the known durations.
/// </summary>
/// <remarks>
/// The durations are 0.1 ms, 0.2 ms, … 100 ms (i × 100 µs, i = 1..1000), spread
/// over routes and statuses: the true p99 (nearest rank) is 99 ms and the
/// sum 50.05 s. Tolerances: classic, 1e-9: 0.099 falls in the (0.075, 0.1]
/// bucket, which holds 250 evenly spaced values, so Prometheus' linear
/// interpolation inside it, 0.075 + 0.025·(990 − 750)/250, is 0.099 exactly.
/// Native, one bucket: Prometheus can only place the quantile inside the
/// schema-3 bucket holding 0.099, (2^(−27/8), 2^(−26/8)] = (0.09638, 0.10511],
/// i.e. within 2^(1/8) ≈ 9 %. Sums and counts are exact.
/// </remarks>
public sealed class PrometheusScrapeTests(ITestOutputHelper output)
{
    private const string Name = HttpServerMetrics.DurationName;

    [Fact]
    public async Task Prometheus_counts_exactly_and_quantiles_match_the_known_distribution()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry);
        var shapes = new[]
        {
            new RequestViews("GET", "/products/1", "/products/:id", 200),
            new RequestViews("GET", "/", null, 200),
            new RequestViews("POST", "/cart/1/checkout", "/cart/:id/checkout", 500),
        };
        void RecordBatch()
        {
            for (var i = 1; i <= 1000; i++) http.Record(i % 2 == 0 ? "shop" : "cart", shapes[i % 3].View((ulong)i * 100_000));
        }
        RecordBatch();
        // Sonde's own metrics ride along: units, ratios and counters in
        // seconds must parse in both formats (one bad line fails a scrape).
        var self = new SelfMetrics(registry);
        self.Targets.Set(2);
        self.RingBufferFillRatio.Set(0.25);
        self.SetBpfProgramStats("sonde_http_start", new BpfProgramStats(7, 1_500_000_000, 3, 0));

        int port = FreePort.Next();
        await using var endpoint = MetricsEndpoint.Build(registry, $"http://127.0.0.1:{port}");
        await endpoint.StartAsync();
        var sw = Stopwatch.StartNew();
        var classicStart = PrometheusServer.StartAsync(port, nativeHistograms: false);
        var nativeStart = PrometheusServer.StartAsync(port, nativeHistograms: true);
        using var classic = await classicStart;
        using var native = await nativeStart;
        var timeout = TimeSpan.FromSeconds(15);

        // Batch 1, read from the cumulative counts.
        await classic.WaitForAsync($"sum({Name}_count)", 1000, timeout);
        await native.WaitForAsync($"histogram_count(sum({Name}))", 1000, timeout);
        Assert.Equal(50.05, (await classic.ScalarAsync($"sum({Name}_sum)"))!.Value, 9);
        Assert.Equal(50.05, (await native.ScalarAsync($"histogram_sum(sum({Name}))"))!.Value, 9);
        Assert.Equal(0.099, (await classic.ScalarAsync($"histogram_quantile(0.99, sum by (le) ({Name}_bucket))"))!.Value, 9);
        Assert.InRange((await native.ScalarAsync($"histogram_quantile(0.99, sum({Name}))"))!.Value, Math.Pow(2, -27 / 8.0), Math.Pow(2, -26 / 8.0));
        foreach (var server in new[] { classic, native })
        {
            Assert.Equal(2, await server.ScalarAsync("sonde_targets"));
            Assert.Equal(0.25, await server.ScalarAsync("sonde_ringbuf_fill_ratio"));
            Assert.Equal(1.5, await server.ScalarAsync("sonde_bpf_run_time_seconds_total{program=\"sonde_http_start\"}"));
        }
        // What each server negotiated: the shipped one has classic buckets and
        // no native samples, the native one the reverse (it read protobuf).
        Assert.Equal(6, (await classic.QueryAsync($"sum by (service, http_route) ({Name}_count)")).GetArrayLength());
        Assert.Null(await native.ScalarAsync($"count({Name}_bucket)"));
        Assert.Null(await classic.ScalarAsync($"histogram_count(sum({Name}))"));

        // Batch 2, the same durations again, read through rate(): the window
        // holds scrapes from before and after it, so rate() sees only batch 2.
        RecordBatch();
        await classic.WaitForAsync($"sum({Name}_count)", 2000, timeout);
        await native.WaitForAsync($"histogram_count(sum({Name}))", 2000, timeout);
        Assert.Equal(0.099, (await classic.ScalarAsync($"histogram_quantile(0.99, sum by (le) (rate({Name}_bucket[1m])))"))!.Value, 9);
        Assert.InRange((await native.ScalarAsync($"histogram_quantile(0.99, sum(rate({Name}[1m])))"))!.Value,
            Math.Pow(2, -27 / 8.0), Math.Pow(2, -26 / 8.0));
        foreach (var service in new[] { "shop", "cart" })
        {
            Assert.Equal(1000, await classic.ScalarAsync($"sum({Name}_count{{service=\"{service}\"}})"));
            Assert.Equal(1000, await native.ScalarAsync($"histogram_count(sum({Name}{{service=\"{service}\"}}))"));
        }
        output.WriteLine($"native p99 {await native.ScalarAsync($"histogram_quantile(0.99, sum({Name}))")}, took {sw.Elapsed}");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"took {sw.Elapsed}");
        await endpoint.StopAsync();
    }
}
