namespace Sonde.Metrics;

/// <summary>The scrape formats Sonde writes, chosen per scrape by <see cref="MetricsExposition.Negotiate"/>.</summary>
public enum ExpositionFormat
{
    /// <summary>Prometheus text format 0.0.4: classic buckets only.</summary>
    PrometheusText,
    /// <summary>OpenMetrics 1.0.0 text: classic buckets only, ends with <c># EOF</c>.</summary>
    OpenMetrics,
    /// <summary>Length-delimited <c>io.prometheus.client.MetricFamily</c>: classic and native buckets.</summary>
    Protobuf,
}
