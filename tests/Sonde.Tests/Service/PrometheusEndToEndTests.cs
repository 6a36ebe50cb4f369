using System.Diagnostics;
using System.Globalization;
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
        int metricsPort = FreePort.Next();
        string bin = Repo.GoServer("gin");
        string dir = Directory.CreateTempSubdirectory("sonde-prom-e2e").FullName;
        string config = Path.Combine(dir, "sonde.json");
        File.WriteAllText(config, "{\"targets\":[{\"exe\":\"" + bin + "\",\"service\":\"shop\"}]," +
            "\"metrics\":{\"listen\":\"127.0.0.1:" + metricsPort + "\"},\"tracing\":{\"breakdown\":false}}");
        using var sonde = SondeRun.Start("run", "--config", config);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string metricsUrl = $"http://127.0.0.1:{metricsPort}/metrics";
        await Until(async () => (await TryGet(http, metricsUrl))?.Contains("sonde_targets") == true, "sonde run ready", sonde);
        using var prometheus = await PrometheusServer.StartAsync(metricsPort, nativeHistograms: true);
        try
        {
            using var srv = GoServer.Start("gin");
            await Until(async () => (await TryGet(http, metricsUrl))?.Contains("sonde_targets 1") == true, "the Go service traced", sonde);

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

            const string Series = "http_server_request_duration_seconds{service=\"shop\",http_route=\"/sleep/:ms\"}";
            await prometheus.WaitForAsync($"histogram_count(sum({Series}))", Requests, TimeSpan.FromSeconds(20));
            double p99 = await prometheus.ScalarAsync($"histogram_quantile(0.99, sum({Series}))") ?? double.NaN;
            double p50 = await prometheus.ScalarAsync($"histogram_quantile(0.5, sum({Series}))") ?? double.NaN;
            double clientP50 = latencies[Requests / 2];
            output.WriteLine($"Prometheus: {Requests} requests; p50 {p50 * 1000:0.000} ms, p99 {p99 * 1000:0.000} ms (native histogram); " +
                $"client p50 {clientP50 * 1000:0.000} ms, p99 {clientP99 * 1000:0.000} ms");
            // Each request's server-side duration is part of the client's measurement of it,
            // so no quantile can exceed the client's (up to the ~9% width of schema-3
            // buckets), and none can be below the handler's 5 ms sleep. The medians agree
            // within the loopback round trip and client overhead.
            const double Bucket = 1.095;
            Assert.InRange(p99, 0.005, clientP99 * Bucket);
            Assert.InRange(p50, 0.005, clientP50 * Bucket);
            Assert.InRange(clientP50 - p50, -0.0006, 0.001);
        }
        finally
        {
            sonde.Interrupt();
            Directory.Delete(dir, true);
        }
    }

    private static async Task<string?> TryGet(HttpClient http, string url)
    {
        try { return await http.GetStringAsync(url); }
        catch (HttpRequestException) { return null; }
        catch (TaskCanceledException) { return null; }
    }

    private static async Task Until(Func<Task<bool>> condition, string what, SondeRun sonde)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (await condition()) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"{what} did not happen; sonde said:\n{sonde.Stderr}\n{sonde.Stdout}");
    }
}
