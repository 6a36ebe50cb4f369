using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sonde.Tests.Metrics;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Service;

/// <summary>
/// A real Prometheus 2.42 (native histograms on) scraping a real `sonde run`
/// while a Go service it discovered takes known traffic: PromQL returns the
/// exact request count, and a p99 consistent with the client's own.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class PrometheusEndToEndTests(ITestOutputHelper output)
{
    [RootFact]
    public async Task Prometheus_counts_every_request_and_agrees_on_p99()
    {
        const int Requests = 1000;
        await using var run = await DaemonScraped.StartAsync("gin");
        var (sonde, http, metricsUrl, prometheus) = (run.Sonde, run.Http, run.MetricsUrl, run.Prometheus);
        using var srv = GoServer.Start("gin");
        await Poll.UntilAsync(async () => (await Poll.TryGetAsync(http, metricsUrl))?.Contains("sonde_targets 1") == true, "the Go service traced", sonde);

        // Known traffic: every request sleeps 5 ms in the handler; the client times each
        // one, one at a time, so its time is the handler's plus a loopback round trip
        // (with concurrent connections on 2 CPUs it would add its own queueing).
        var latencies = new double[Requests];
        using var client = new HttpClient { BaseAddress = new Uri(srv.BaseUrl) };
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, 1).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Requests)
            {
                long t0 = Stopwatch.GetTimestamp();
                using var r = await client.GetAsync("/sleep/5");
                r.EnsureSuccessStatusCode();
                latencies[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            }
        })));
        Array.Sort(latencies);
        double clientP99 = latencies[(int)(Requests * 0.99) - 1];
        // The handler's own time for each request (tests/goservers/gopath): truth that a
        // loaded machine doesn't move, as the client's does.
        var handler = srv.StopAndReadLog().Select(m => m.DurationNs / 1e9).Order().ToList();
        Assert.Equal(Requests, handler.Count);
        double handlerP50 = handler[Requests / 2];

        const string Series = "http_server_request_duration_seconds{service=\"shop\",http_route=\"/sleep/:ms\"}";
        await prometheus.WaitForAsync($"histogram_count(sum({Series}))", Requests, TimeSpan.FromSeconds(20));
        double p99 = await prometheus.ScalarAsync($"histogram_quantile(0.99, sum({Series}))") ?? double.NaN;
        double p50 = await prometheus.ScalarAsync($"histogram_quantile(0.5, sum({Series}))") ?? double.NaN;
        double clientP50 = latencies[Requests / 2];
        output.WriteLine($"Prometheus: {Requests} requests; p50 {p50 * 1000:0.000} ms, p99 {p99 * 1000:0.000} ms (native histogram); " +
            $"client p50 {clientP50 * 1000:0.000} ms, p99 {clientP99 * 1000:0.000} ms; handler p50 {handlerP50 * 1000:0.000} ms");
        // Each request's server-side duration is part of the client's measurement of it,
        // so no quantile can exceed the client's (up to the ~9% width of schema-3
        // buckets), and none can be below the handler's 5 ms sleep. The median is the
        // handler's own, within a bucket (Sonde's window exceeds the handler's by µs).
        const double Bucket = 1.095;
        Assert.InRange(p99, 0.005, clientP99 * Bucket);
        Assert.InRange(p50, 0.005, clientP50 * Bucket);
        Assert.InRange(p50, handlerP50 / Bucket, handlerP50 * Bucket);
    }

    /// <summary>
    /// Routes from each router reach Prometheus as <c>http_route</c> labels, counted
    /// exactly: a `sonde run` traces the router's server (Go 1.27, stripped), a real
    /// Prometheus scrapes it, and the request counts by route, method and status
    /// are what was sent. A request no route matched is labelled with its path.
    /// </summary>
    [RootTheory]
    [InlineData("chi-stripped", "/users/{id}", "/users/{id}/orders", "/api/v1/items/{item}")]
    [InlineData("echo-stripped", "/users/:id", "/users/:id/orders", "/api/v1/items/:item")]
    [InlineData("gorillamux-stripped", "/users/{id}", "/users/{id}/orders", "/api/v1/items/{item}")]
    [InlineData("mux-stripped", "/users/{id}", "/users/{id}/orders", null)]
    public async Task Routes_reach_Prometheus_as_http_route(string variant, string user, string orders, string? items)
    {
        string server = GoMatrix.Server(GoMatrix.Newest, variant);
        await using var run = await DaemonScraped.StartAsync(server);
        var (sonde, http, metricsUrl, prometheus) = (run.Sonde, run.Http, run.MetricsUrl, run.Prometheus);
        using var srv = GoServer.Start(server);
        await Poll.UntilAsync(async () => (await Poll.TryGetAsync(http, metricsUrl))?.Contains("sonde_targets 1") == true, "the Go service traced", sonde);
        var plan = new List<(string, string)>();
        for (int i = 0; i < 60; i++) plan.Add(("GET", $"/users/{i}"));
        for (int i = 0; i < 30; i++) plan.Add(("POST", $"/users/{i}/orders"));
        if (items is not null) for (int i = 0; i < 20; i++) plan.Add(("GET", $"/api/v1/items/{i}"));
        for (int i = 0; i < 3; i++) plan.Add(("GET", $"/nothing/{i}"));
        var sent = await LoadClient.SendAsync(srv.BaseUrl, plan, 4);

        var expected = new Dictionary<(string Route, string Method, string Status), int>
        {
            [(user, "GET", "200")] = 60,
            [(orders, "POST", "201")] = 30,
        };
        if (items is not null) expected[(items, "GET", "200")] = 20;
        for (int i = 0; i < 3; i++) expected[($"/nothing/{i}", "GET", "404")] = 1;
        Assert.Equal(expected.Sum(e => e.Value), sent.Count);
        Assert.Equal(expected.Where(e => e.Key.Status == "404").Sum(e => e.Value), sent.Count(r => r.Status == 404));

        const string Series = "http_server_request_duration_seconds{service=\"shop\"}";
        await prometheus.WaitForAsync($"histogram_count(sum({Series}))", sent.Count, TimeSpan.FromSeconds(20));
        var rows = await prometheus.QueryAsync($"sum by (http_route, http_request_method, http_response_status_code) (histogram_count({Series}))");
        var got = rows.EnumerateArray().ToDictionary(
            r => (r.GetProperty("metric").GetProperty("http_route").GetString()!, r.GetProperty("metric").GetProperty("http_request_method").GetString()!,
                r.GetProperty("metric").GetProperty("http_response_status_code").GetString()!),
            r => (int)double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture));
        output.WriteLine(string.Join("\n", got.Select(g => $"{g.Key}: {g.Value}")));
        Assert.Equal(expected.OrderBy(e => e.Key.ToString(), StringComparer.Ordinal), got.OrderBy(e => e.Key.ToString(), StringComparer.Ordinal));
    }

    /// <summary>
    /// gRPC calls reach Prometheus as <c>rpc_server_call_duration_seconds</c> with
    /// OpenTelemetry's RPC labels, counted exactly: a `sonde run` traces the grpc-go
    /// server (Debian's grpc 1.33, Go 1.27, stripped), a real Prometheus scrapes it,
    /// and the calls by method, status code and error type are what was sent.
    /// </summary>
    [RootFact]
    public async Task gRPC_calls_reach_Prometheus_as_rpc_server_call_duration()
    {
        string server = GoMatrix.Server(GoMatrix.Newest, "grpc-stripped");
        await using var run = await DaemonScraped.StartAsync(server);
        var (sonde, http, metricsUrl, prometheus) = (run.Sonde, run.Http, run.MetricsUrl, run.Prometheus);
        using var srv = GoServer.Start(server);
        await Poll.UntilAsync(async () => (await Poll.TryGetAsync(http, metricsUrl))?.Contains("sonde_targets 1") == true, "the Go service traced", sonde);
        using (var client = new GrpcHealthClient(srv.Port))
        {
            for (int i = 0; i < 40; i++) Assert.Equal(0, (await client.CheckAsync("")).GrpcStatus);
            for (int i = 0; i < 25; i++) Assert.Equal(5, (await client.CheckAsync("nope")).GrpcStatus);
        }

        const string Series = "rpc_server_call_duration_seconds{service=\"shop\"}";
        await prometheus.WaitForAsync($"histogram_count(sum({Series}))", 65, TimeSpan.FromSeconds(20));
        var rows = await prometheus.QueryAsync($"sum by (rpc_system_name, rpc_method, rpc_response_status_code, error_type) (histogram_count({Series}))");
        string Label(JsonElement r, string name) => r.GetProperty("metric").TryGetProperty(name, out var v) ? v.GetString()! : "";
        var got = rows.EnumerateArray().ToDictionary(
            r => (Label(r, "rpc_system_name"), Label(r, "rpc_method"), Label(r, "rpc_response_status_code"), Label(r, "error_type")),
            r => (int)double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture));
        output.WriteLine(string.Join("\n", got.Select(g => $"{g.Key}: {g.Value}")));
        // NOT_FOUND is the client's doing: no error_type (OpenTelemetry's gRPC server errors).
        var expected = new Dictionary<(string, string, string, string), int>
        {
            [("grpc", "grpc.health.v1.Health/Check", "OK", "")] = 40,
            [("grpc", "grpc.health.v1.Health/Check", "NOT_FOUND", "")] = 25,
        };
        Assert.Equal(expected.OrderBy(e => e.Key.ToString(), StringComparer.Ordinal), got.OrderBy(e => e.Key.ToString(), StringComparer.Ordinal));
        // gRPC calls are not HTTP requests in the metrics.
        Assert.Equal(0, (await prometheus.ScalarAsync("count(http_server_request_duration_seconds{service=\"shop\"})")) ?? 0);
    }

    /// <summary>
    /// A `sonde run` whose one target is the executable of a test server (service
    /// "shop", breakdown off), ready, and a real Prometheus scraping its /metrics.
    /// </summary>
    private sealed class DaemonScraped : IAsyncDisposable
    {
        public required SondeRun Sonde { get; init; }
        public required HttpClient Http { get; init; }
        public required string MetricsUrl { get; init; }
        public required PrometheusServer Prometheus { get; init; }
        public required string Dir { get; init; }

        public static async Task<DaemonScraped> StartAsync(string server)
        {
            int metricsPort = FreePort.Next();
            string dir = Directory.CreateTempSubdirectory("sonde-prom-e2e").FullName;
            string config = Path.Combine(dir, "sonde.json");
            File.WriteAllText(config, "{\"targets\":[{\"exe\":\"" + Repo.GoServer(server) + "\",\"service\":\"shop\"}]," +
                "\"metrics\":{\"listen\":\"127.0.0.1:" + metricsPort + "\"},\"tracing\":{\"breakdown\":false}}");
            var sonde = SondeRun.Start("run", "--config", config);
            var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            string metricsUrl = $"http://127.0.0.1:{metricsPort}/metrics";
            await Poll.UntilAsync(async () => (await Poll.TryGetAsync(http, metricsUrl))?.Contains("sonde_targets") == true, "sonde run ready", sonde);
            var prometheus = await PrometheusServer.StartAsync(metricsPort, nativeHistograms: true);
            return new DaemonScraped { Sonde = sonde, Http = http, MetricsUrl = metricsUrl, Prometheus = prometheus, Dir = dir };
        }

        public ValueTask DisposeAsync()
        {
            Prometheus.Dispose();
            Sonde.Interrupt();
            Sonde.Dispose();
            Http.Dispose();
            Directory.Delete(Dir, true);
            return ValueTask.CompletedTask;
        }
    }
}
