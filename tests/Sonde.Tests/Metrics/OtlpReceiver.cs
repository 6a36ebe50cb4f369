using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Sonde.Metrics.Proto.Otlp;

namespace Sonde.Tests.Metrics;

/// <summary>
/// A stand-in OTLP/HTTP collector on Kestrel: decodes every
/// <c>POST /v1/metrics</c> with the generated types and answers what the
/// test scripts (by attempt number: 200 unless told otherwise).
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<(DateTimeOffset At, ExportMetricsServiceRequest Request)> _received = [];
    private readonly Func<int, (int Status, string? RetryAfter)> _answer;
    private int _attempts;

    private OtlpReceiver(int port, Func<int, (int, string?)>? answer)
    {
        _answer = answer ?? (_ => (200, null));
        Endpoint = new Uri($"http://127.0.0.1:{port}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(Endpoint.ToString());
        _app = builder.Build();
        _app.MapPost("/v1/metrics", HandleAsync);
    }

    public Uri Endpoint { get; }

    /// <summary>Requests received so far, decoded, answered with 2xx or not.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    public IReadOnlyList<(DateTimeOffset At, ExportMetricsServiceRequest Request)> Received { get { lock (_received) return [.. _received]; } }

    public static async Task<OtlpReceiver> StartAsync(int port, Func<int, (int Status, string? RetryAfter)>? answer = null)
    {
        var receiver = new OtlpReceiver(port, answer);
        await receiver._app.StartAsync();
        return receiver;
    }

    /// <summary>Waits for a request (answered or not) that satisfies <paramref name="match"/>.</summary>
    public async Task<ExportMetricsServiceRequest> WaitForAsync(Func<ExportMetricsServiceRequest, bool> match, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            foreach (var (_, request) in Received)
                if (match(request)) return request;
            await Task.Delay(20);
        }
        throw new TimeoutException($"no matching OTLP request within {timeout} ({Attempts} received)");
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.ContentType != "application/x-protobuf") { context.Response.StatusCode = 415; return; }
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var request = ExportMetricsServiceRequest.Parser.ParseFrom(body.ToArray());
        int attempt = Interlocked.Increment(ref _attempts);
        lock (_received) _received.Add((DateTimeOffset.UtcNow, request));
        var (status, retryAfter) = _answer(attempt);
        context.Response.StatusCode = status;
        if (retryAfter is not null) context.Response.Headers.RetryAfter = retryAfter;
        if (status == 200)
        {
            context.Response.ContentType = "application/x-protobuf";
            await context.Response.Body.WriteAsync(new ExportMetricsServiceResponse().ToByteArray());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
