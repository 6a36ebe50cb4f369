using Sonde.Metrics;
using Sonde.Tracing;

namespace Sonde.Tests.Metrics;

/// <summary>
/// A registry shaped like the daemon's: request histograms of two services
/// (labels that need escaping included), every self-metric set, and the
/// OTLP exporter's counters.
/// </summary>
public static class DaemonRegistry
{
    public static MetricsRegistry Create()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry, new HttpServerMetricsOptions { MaxRoutesPerService = 3 });
        var requests = new[]
        {
            new RequestViews("GET", "/products/42", "/products/:id", 200),
            new RequestViews("POST", "/cart/7/checkout", "/cart/:id/checkout", 500),
            new RequestViews("GET", "/odd \"path\"\\with\nnewline", null, 404),
            new RequestViews("GET", "/ünïcødé", null, 200),
            new RequestViews("DELETE", "/h2", null, 0),
        };
        for (var i = 0; i < 500; i++)
            http.Record(i % 5 == 0 ? "cart" : "shop", requests[i % requests.Length].View((ulong)(i * 37_000 + 9_000)));

        var self = new SelfMetrics(registry);
        self.Targets.Set(2);
        self.ProbesAttached.Set(6);
        self.ProbeAttachFailed("symbol_not_found");
        self.SetTracerStats(new TracerStats(StartHits: 510, EndHits: 505, RouteHits: 300, Events: 500, Drops: 3, EndUnmatched: 0, StartNoConfig: 0));
        self.RingBufferFillRatio.Set(0.125);
        self.SetBpfProgramStats("sonde_http_start", new BpfProgramStats(41, 1_234_567, 510, 0));
        registry.AddCounter("sonde_otlp_exports", "OTLP metric export attempts, by result.", ["result"]).WithLabels("success").Add(4);
        return registry;
    }
}
