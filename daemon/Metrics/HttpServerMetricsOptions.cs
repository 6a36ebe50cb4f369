namespace Sonde.Metrics;

/// <summary>Settings of <see cref="HttpServerMetrics"/>.</summary>
public sealed record HttpServerMetricsOptions
{
    /// <summary>Distinct <c>http_route</c> values kept per service; later ones are recorded as <c>other</c>.</summary>
    public int MaxRoutesPerService { get; init; } = 100;

    /// <summary>Distinct <c>peer</c> values kept per service; later ones are recorded as <c>other</c>.</summary>
    public int MaxPeersPerService { get; init; } = 32;

    /// <summary>
    /// Series cap of the duration histogram over all services (each series is
    /// 22 Prometheus series in the classic form); past it, new label sets go
    /// to the all-<c>other</c> series.
    /// </summary>
    public int MaxSeries { get; init; } = MetricsRegistry.DefaultMaxSeriesPerFamily;

    /// <summary>Buckets of the duration histogram (nanoseconds recorded, seconds exposed).</summary>
    public HistogramOptions Histogram { get; init; } = HistogramOptions.DurationSeconds;
}
