using System.Buffers;
using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Sonde.Metrics;

/// <summary>
/// The Prometheus scrape endpoint on Kestrel: <c>GET /metrics</c> answers
/// with a fresh <see cref="MetricsRegistry.Collect"/> in the format the
/// <c>Accept</c> header asks for (<see cref="MetricsExposition.Negotiate"/>),
/// gzip-compressed when <c>Accept-Encoding</c> allows gzip (Prometheus always
/// sends <c>Accept-Encoding: gzip</c>).
/// </summary>
public static class MetricsEndpoint
{
    /// <summary>Loopback only by default: the endpoint has no authentication. 9464 is OpenTelemetry's Prometheus exporter port.</summary>
    public const string DefaultUrl = "http://127.0.0.1:9464";

    public const string DefaultPath = "/metrics";

    /// <summary>
    /// A web application serving only the scrape endpoint, not started
    /// (<c>StartAsync</c> / <c>StopAsync</c> belong to the caller).
    /// <paramref name="listenUrl"/> is a Kestrel URL (<c>http://127.0.0.1:9464</c>;
    /// a bare <c>host:port</c> is taken as http). Kestrel's own logging is off
    /// unless <paramref name="configure"/> turns it on.
    /// </summary>
    public static WebApplication Build(MetricsRegistry registry, string listenUrl = DefaultUrl, string path = DefaultPath,
        Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentException.ThrowIfNullOrWhiteSpace(listenUrl);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(listenUrl.Contains("://", StringComparison.Ordinal) ? listenUrl : "http://" + listenUrl);
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapMetrics(registry, path);
        return app;
    }

    /// <summary>Maps the scrape endpoint on an existing application (GET and HEAD).</summary>
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder endpoints, MetricsRegistry registry, string path = DefaultPath)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(registry);
        return endpoints.MapMethods(path, [HttpMethods.Get, HttpMethods.Head], context => ServeAsync(context, registry));
    }

    private static async Task ServeAsync(HttpContext context, MetricsRegistry registry)
    {
        var format = MetricsExposition.Negotiate(context.Request.Headers.Accept.ToString());
        var body = new ArrayBufferWriter<byte>(64 * 1024);
        MetricsExposition.Write(registry.Collect(), format, body);

        var response = context.Response;
        response.ContentType = MetricsExposition.ContentType(format);
        response.Headers.Vary = "Accept, Accept-Encoding";
        if (HttpMethods.IsHead(context.Request.Method)) return;
        if (AcceptsGzip(context.Request.Headers.AcceptEncoding.ToString()))
        {
            response.Headers.ContentEncoding = "gzip";
            await using var gzip = new GZipStream(response.Body, CompressionLevel.Fastest, leaveOpen: true);
            await gzip.WriteAsync(body.WrittenMemory, context.RequestAborted);
        }
        else
        {
            response.ContentLength = body.WrittenCount;
            await response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted);
        }
    }

    /// <summary>Whether an Accept-Encoding value lists gzip (or *) with a q above 0.</summary>
    internal static bool AcceptsGzip(string acceptEncoding)
    {
        foreach (var part in acceptEncoding.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = part.Split(';', StringSplitOptions.TrimEntries);
            if (!fields[0].Equals("gzip", StringComparison.OrdinalIgnoreCase) && fields[0] != "*") continue;
            bool refused = fields.Skip(1).Any(f => f.StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                && double.TryParse(f[2..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var q) && q <= 0);
            if (!refused) return true;
        }
        return false;
    }
}
