namespace Sonde.Metrics;

/// <summary>Which OTLP data type carries a histogram family (an OTLP metric holds exactly one).</summary>
public enum OtlpHistogramKind
{
    /// <summary>
    /// <c>Histogram</c> with the classic bounds: what every OTLP backend reads,
    /// and OpenTelemetry's default aggregation for histograms.
    /// </summary>
    Explicit,
    /// <summary>
    /// <c>ExponentialHistogram</c> from the native buckets (scale = schema):
    /// higher resolution, becomes a native histogram in Prometheus' OTLP receiver.
    /// </summary>
    Exponential,
}
