using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Sonde.Metrics;
using Sonde.Metrics.Proto.Otlp;
using Sonde.Tests.Support;

namespace Sonde.Tests.Metrics;

/// <summary>
/// The OTLP/HTTP exporter against a real HTTP receiver: what it sends decodes
/// to the registry's counts, retries deliver everything, and a collector that
/// is down neither blocks recording nor loses counts.
/// </summary>
public sealed class OtlpExporterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static (MetricsRegistry Registry, HttpServerMetrics Http) RecordRequests(int perService)
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry);
        var get = new RequestViews("GET", "/products/7", "/products/:id", 200);
        var post = new RequestViews("POST", "/cart/7/checkout", "/cart/:id/checkout", 0);
        for (var i = 1; i <= perService; i++)
        {
            http.Record("shop", get.View((ulong)i * 10_000));
            http.Record("cart", post.View((ulong)i * 1_000_000));
        }
        return (registry, http);
    }

    private static OtlpExporterOptions Options(Uri endpoint, OtlpHistogramKind kind = OtlpHistogramKind.Explicit) => new()
    {
        Endpoint = endpoint, Interval = TimeSpan.FromMilliseconds(200), Timeout = TimeSpan.FromSeconds(5),
        InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromMilliseconds(400), HistogramKind = kind,
        ResourceAttributes = new Dictionary<string, string> { ["host.name"] = "test-host" },
    };

    private static Metric DurationMetric(ExportMetricsServiceRequest request, string service) =>
        Resource(request, service).ScopeMetrics.Single().Metrics.Single(m => m.Name == "http.server.request.duration");

    private static ResourceMetrics Resource(ExportMetricsServiceRequest request, string service) =>
        request.ResourceMetrics.Single(r => r.Resource.Attributes.Any(a => a.Key == "service.name" && a.Value.StringValue == service));

    private static ulong ExplicitCount(ExportMetricsServiceRequest request, string service) =>
        request.ResourceMetrics.Any(r => r.Resource.Attributes.Any(a => a.Key == "service.name" && a.Value.StringValue == service))
            ? DurationMetric(request, service).Histogram.DataPoints.Aggregate(0UL, (n, p) => n + p.Count) : 0;

    private static double Counter(MetricsRegistry registry, string family, string label) =>
        registry.Collect().Families.Single(f => f.Family.Name == family).Series.Single(s => s.LabelValues[0] == label).Value;

    /// <summary>Waits (at most <see cref="Wait"/>) until sonde_otlp_exports{outcome=<paramref name="outcome"/>} reaches <paramref name="atLeast"/>.</summary>
    private static async Task UntilExports(MetricsRegistry registry, string outcome, double atLeast)
    {
        var sw = Stopwatch.StartNew();
        while (Counter(registry, "sonde_otlp_exports", outcome) < atLeast && sw.Elapsed < Wait) await Task.Delay(10);
    }

    [Fact]
    public async Task Exports_decode_to_the_registrys_counts_one_resource_per_service()
    {
        var (registry, _) = RecordRequests(1000);
        await using var receiver = await OtlpReceiver.StartAsync(FreePort.Next());
        await using var exporter = new OtlpMetricsExporter(registry, Options(receiver.Endpoint));
        exporter.Start();
        var request = await receiver.WaitForAsync(_ => true, Wait);

        Assert.Equal(new Uri(receiver.Endpoint, "/v1/metrics"), exporter.ExportUri);
        Assert.Equal(["cart", "shop", "sonde"], request.ResourceMetrics
            .Select(r => r.Resource.Attributes.Single(a => a.Key == "service.name").Value.StringValue).Order());
        Assert.All(request.ResourceMetrics, r => Assert.Contains(r.Resource.Attributes, a => a.Key == "host.name" && a.Value.StringValue == "test-host"));

        var shop = DurationMetric(request, "shop");
        Assert.Equal("s", shop.Unit);
        Assert.Equal(AggregationTemporality.Cumulative, shop.Histogram.AggregationTemporality);
        var point = shop.Histogram.DataPoints.Single();
        Assert.Equal(1000UL, point.Count);
        Assert.Equal(500500L * 10_000 / 1e9, point.Sum, 9);
        Assert.Equal(HistogramOptions.HttpDurationBounds, point.ExplicitBounds);
        Assert.Equal(point.ExplicitBounds.Count + 1, point.BucketCounts.Count);
        Assert.Equal(point.Count, point.BucketCounts.Aggregate(0UL, (a, b) => a + b));
        // 10 µs .. 10 ms: 10 per 100 µs bucket up to 0.0001, and so on; check two edges.
        Assert.Equal(10UL, point.BucketCounts[0]);   // ≤ 0.0001 s: i = 1..10
        Assert.Equal(0UL, point.BucketCounts[^1]);
        Assert.Equal(["http.request.method=GET", "http.response.status_code=200", "http.route=/products/:id"],
            point.Attributes.Select(a => a.Key + "=" + a.Value.StringValue).Order());
        Assert.True(point.StartTimeUnixNano > 0 && point.StartTimeUnixNano <= point.TimeUnixNano);

        // An unread status is no attribute at all.
        var cart = DurationMetric(request, "cart").Histogram.DataPoints.Single();
        Assert.DoesNotContain(cart.Attributes, a => a.Key == "http.response.status_code");
        Assert.Equal(1000UL, cart.Count);

        // Sonde's own counters travel as monotonic cumulative sums of the "sonde" resource.
        var overflow = Resource(request, "shop").ScopeMetrics.Single().Metrics.Single(m => m.Name == "sonde_route_overflow");
        Assert.True(overflow.Sum.IsMonotonic);
        var refresh = Resource(request, "sonde").ScopeMetrics.Single().Metrics.Single(m => m.Name == "sonde_metric_refresh_errors");
        Assert.Equal(0, refresh.Sum.DataPoints.Single().AsDouble);
    }

    [Fact]
    public async Task Exponential_histograms_carry_the_native_buckets_shifted_by_one()
    {
        var (registry, _) = RecordRequests(1000);
        var snapshot = registry.Collect().Families.Single(f => f.Family.Name == HttpServerMetrics.DurationName)
            .Series.Single(s => s.LabelValues[0] == "shop").Histogram!;
        await using var receiver = await OtlpReceiver.StartAsync(FreePort.Next());
        await using var exporter = new OtlpMetricsExporter(registry, Options(receiver.Endpoint, OtlpHistogramKind.Exponential));
        exporter.Start();
        var request = await receiver.WaitForAsync(_ => true, Wait);

        var point = DurationMetric(request, "shop").ExponentialHistogram.DataPoints.Single();
        Assert.Equal(3, point.Scale);
        Assert.Equal(1000UL, point.Count);
        Assert.Equal(HistogramOptions.DefaultZeroThreshold, point.ZeroThreshold);
        Assert.Equal(point.Count, point.ZeroCount + point.Positive.BucketCounts.Aggregate(0UL, (a, b) => a + b));
        // OTLP bucket k holds (b^k, b^(k+1)]; Prometheus bucket i holds (b^(i-1), b^i]: k = i - 1.
        Assert.Equal(snapshot.NativeIndexes[0] - 1, point.Positive.Offset);
        for (var i = 0; i < snapshot.NativeIndexes.Count; i++)
            Assert.Equal((ulong)snapshot.NativeCounts[i], point.Positive.BucketCounts[snapshot.NativeIndexes[i] - 1 - point.Positive.Offset]);
        // 10 µs (the smallest value) lies in OTLP bucket (b^k, b^(k+1)] with k = offset.
        double b = Math.Pow(2, 1 / 8.0);
        Assert.InRange(10e-6, Math.Pow(b, point.Positive.Offset), Math.Pow(b, point.Positive.Offset + 1));
    }

    [Fact]
    public async Task A_503_is_retried_after_retry_after_and_the_retry_delivers_everything()
    {
        var (registry, http) = RecordRequests(500);
        await using var receiver = await OtlpReceiver.StartAsync(FreePort.Next(), attempt => attempt == 1 ? (503, "1") : (200, null));
        await using var exporter = new OtlpMetricsExporter(registry, Options(receiver.Endpoint) with { ExportOnStop = false });
        exporter.Start();
        await receiver.WaitForAsync(_ => true, Wait);

        // Recorded after the refused export: the retry carries it too.
        http.Record("shop", new RequestViews("GET", "/products/7", "/products/:id", 200).View(42));
        var delivered = await receiver.WaitForAsync(r => ExplicitCount(r, "shop") == 501, Wait);
        Assert.Equal(500UL, ExplicitCount(delivered, "cart"));
        var at = receiver.Received.Select(r => r.At).ToList();
        Assert.InRange(at[1] - at[0], TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(3)); // Retry-After: 1
        // The receiver records a request before it answers: stopping right away
        // cancels the export that is still reading its 200, which is then not
        // counted. Stop once the exporter has seen the answers.
        await UntilExports(registry, "success", receiver.Attempts - 1);
        await exporter.StopAsync();
        Assert.Equal(1, Counter(registry, "sonde_otlp_exports", "retryable_failure"));
        Assert.Equal(receiver.Attempts - 1, Counter(registry, "sonde_otlp_exports", "success"));
    }

    [Fact]
    public async Task A_429_without_retry_after_backs_off_exponentially_with_jitter()
    {
        var (registry, _) = RecordRequests(300);
        await using var receiver = await OtlpReceiver.StartAsync(FreePort.Next(), attempt => attempt <= 3 ? (429, null) : (200, null));
        await using var exporter = new OtlpMetricsExporter(registry, Options(receiver.Endpoint) with { ExportOnStop = false });
        exporter.Start();
        await receiver.WaitForAsync(_ => receiver.Attempts >= 4, Wait);
        await exporter.StopAsync();
        var at = receiver.Received.Select(r => r.At).ToList();
        // Delays drawn from the upper half of 100, 200, 400 ms (plus scheduling slack).
        Assert.InRange(at[1] - at[0], TimeSpan.FromMilliseconds(45), TimeSpan.FromMilliseconds(1500));
        Assert.InRange(at[2] - at[1], TimeSpan.FromMilliseconds(95), TimeSpan.FromMilliseconds(1500));
        Assert.InRange(at[3] - at[2], TimeSpan.FromMilliseconds(195), TimeSpan.FromMilliseconds(1500));
        Assert.Equal(300UL, ExplicitCount(receiver.Received[3].Request, "shop"));
        Assert.Equal(3, Counter(registry, "sonde_otlp_exports", "retryable_failure"));
    }

    [Fact]
    public async Task Backoff_doubles_up_to_its_cap_and_stays_in_the_upper_half()
    {
        var registry = new MetricsRegistry();
        await using var exporter = new OtlpMetricsExporter(registry, Options(new Uri("http://127.0.0.1:9")) with
        {
            InitialBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(30),
        });
        for (var failures = 1; failures <= 40; failures++)
        {
            double ceiling = Math.Min(30, Math.Pow(2, failures - 1));
            for (var i = 0; i < 50; i++)
                Assert.InRange(exporter.Backoff(failures).TotalSeconds, ceiling / 2, ceiling);
        }
    }

    [Fact]
    public async Task A_400_is_not_retried_before_the_next_interval()
    {
        var (registry, _) = RecordRequests(10);
        await using var receiver = await OtlpReceiver.StartAsync(FreePort.Next(), _ => (400, null));
        await using var exporter = new OtlpMetricsExporter(registry, Options(receiver.Endpoint) with
        {
            Interval = TimeSpan.FromMilliseconds(600), InitialBackoff = TimeSpan.FromMilliseconds(20), ExportOnStop = false,
        });
        exporter.Start();
        await Task.Delay(1500);
        await exporter.StopAsync();
        Assert.InRange(receiver.Attempts, 1, 2); // at 0.6 s and 1.2 s, never at backoff pace
        // Each attempt is counted: refused, or cut short by the stop (on a slow machine the second
        // may still be in flight at 1.5 s; the collector may or may not have seen it then).
        double refused = Counter(registry, "sonde_otlp_exports", "permanent_failure"), cut = Counter(registry, "sonde_otlp_exports", "cancelled");
        Assert.InRange(refused + cut, 1, 2);
        Assert.InRange((double)receiver.Attempts, refused, refused + cut);
    }

    [Fact]
    public async Task A_collector_that_never_answers_neither_blocks_recording_nor_loses_counts()
    {
        int port = FreePort.Next();
        // A black hole: accepts connections, never reads or answers.
        var blackHole = new TcpListener(IPAddress.Loopback, port);
        blackHole.Start();
        var accepted = new List<Socket>();
        var accepting = Task.Run(async () =>
        {
            try { while (true) accepted.Add(await blackHole.AcceptSocketAsync()); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        });

        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry);
        var request = new RequestViews("GET", "/products/7", "/products/:id", 200);
        await using var exporter = new OtlpMetricsExporter(registry, Options(new Uri($"http://127.0.0.1:{port}")) with
        {
            Timeout = TimeSpan.FromMilliseconds(1000),
        });
        exporter.Start();

        // Record while exports hang on the black hole until their timeout (1 s): a
        // recording that waited on an export would take that long; a batch takes a few
        // ms, and no scheduling delay of a loaded machine comes near 800 ms.
        const int N = 500_000;
        var slowest = TimeSpan.Zero;
        var sw = Stopwatch.StartNew();
        for (var batch = 0; batch < N / 10_000; batch++)
        {
            var b = Stopwatch.StartNew();
            for (var i = 0; i < 10_000; i++) http.Record("shop", request.View(1_000_000));
            if (b.Elapsed > slowest) slowest = b.Elapsed;
            if (batch % 10 == 0) await Task.Delay(50); // let several export attempts overlap the recording
        }
        await UntilExports(registry, "retryable_failure", 2);
        Assert.True(Counter(registry, "sonde_otlp_exports", "retryable_failure") >= 2, "exports should have timed out");
        Assert.True(slowest < TimeSpan.FromMilliseconds(800), $"a batch of 10,000 records took {slowest}: recording waited on the exporter");

        // The collector comes up on the same address: the next export carries every count.
        blackHole.Stop();
        await accepting;
        foreach (var s in accepted) s.Dispose();
        await using var receiver = await OtlpReceiver.StartAsync(port);
        var delivered = await receiver.WaitForAsync(r => ExplicitCount(r, "shop") == N, Wait);
        Assert.Equal((ulong)N, ExplicitCount(delivered, "shop"));
    }

    [Fact]
    public async Task Stopping_flushes_one_last_export()
    {
        var (registry, _) = RecordRequests(42);
        await using var receiver = await OtlpReceiver.StartAsync(FreePort.Next());
        var exporter = new OtlpMetricsExporter(registry, Options(receiver.Endpoint) with { Interval = TimeSpan.FromHours(1) });
        exporter.Start();
        await exporter.DisposeAsync();
        Assert.Equal(1, receiver.Attempts);
        Assert.Equal(42UL, ExplicitCount(receiver.Received.Single().Request, "cart"));
    }
}
