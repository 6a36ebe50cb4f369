using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Sonde.Metrics;
using Sonde.Tests.Support;

namespace Sonde.Tests.Metrics;

/// <summary>The Kestrel endpoint over real HTTP: the format follows Accept, gzip follows Accept-Encoding.</summary>
public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private WebApplication? _app;
    private int _port;

    public async Task InitializeAsync()
    {
        _port = FreePort.Next();
        _app = MetricsEndpoint.Build(GoldenRegistry.Create(), $"127.0.0.1:{_port}");
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private async Task<(HttpResponseMessage Response, byte[] Body)> GetAsync(string? accept, string? acceptEncoding = null, string path = "/metrics")
    {
        using var client = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_port}{path}");
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        if (acceptEncoding is not null) request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        var response = await client.SendAsync(request);
        return (response, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_plain_get_gets_text_0_0_4()
    {
        var (response, body) = await GetAsync(null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal(GoldenRegistry.PrometheusText.ReplaceLineEndings("\n"), Encoding.UTF8.GetString(body));
    }

    [Fact]
    public async Task Prometheus_2_42_gets_gzipped_openmetrics()
    {
        var (response, body) = await GetAsync(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "gzip");
        Assert.Equal("application/openmetrics-text; version=1.0.0; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        using var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        Assert.Equal(GoldenRegistry.OpenMetrics.ReplaceLineEndings("\n"), await reader.ReadToEndAsync());
    }

    [Fact]
    public async Task Prometheus_with_native_histograms_gets_protobuf()
    {
        var (response, body) = await GetAsync(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,*/*;q=0.1");
        Assert.Equal("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            response.Content.Headers.ContentType!.ToString());
        var families = ScrapeParsing.ParseDelimited(body);
        var latency = families.Single(f => f.Name == "test_latency_seconds");
        Assert.Equal(5L, latency.Metric.Sum(m => (long)m.Histogram.SampleCount));
        Assert.All(latency.Metric, m => Assert.Equal(3, m.Histogram.Schema));
    }

    [Fact]
    public async Task Other_paths_are_not_found()
    {
        var (response, _) = await GetAsync(null, path: "/");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
