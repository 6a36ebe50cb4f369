namespace Sonde.Metrics;

/// <summary>
/// How a histogram family buckets its observations: classic buckets with
/// fixed upper bounds, and a native (sparse exponential) histogram, both kept
/// for every series. Observations are unsigned integers in a recording unit
/// (nanoseconds) and exposed divided by <see cref="ValueDivisor"/> (seconds).
/// </summary>
public sealed record HistogramOptions
{
    /// <summary>
    /// Classic bounds for request durations, in seconds: OpenTelemetry's
    /// advised boundaries for <c>http.server.request.duration</c> (semantic
    /// conventions, docs/http/http-metrics.md: 0.005 … 10) extended down by
    /// 0.0001, 0.00025, 0.0005, 0.001 and 0.0025.
    /// </summary>
    /// <remarks>
    /// The extension exists because Go handlers are fast: the demo's
    /// <c>GET /</c> answers in about 11 µs and an id lookup in about 1 ms, so
    /// with OTel's bounds alone most of a Go service's requests would share
    /// the first bucket and every sub-5 ms SLO would be unanswerable. The
    /// 1–2.5–5 steps continue OTel's own pattern; it stops at 100 µs because
    /// each bound costs one time series per label set in Prometheus, and the
    /// native histogram (about 9 % wide buckets at schema 3) already resolves
    /// everything below. Keeping OTel's bounds as a subset keeps these
    /// buckets mergeable with other OTel-instrumented services' buckets.
    /// </remarks>
    public static IReadOnlyList<double> HttpDurationBounds { get; } =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    /// <summary>
    /// 2^-128: client_golang's default zero threshold
    /// (<c>DefNativeHistogramZeroThreshold</c>, listed as the
    /// NativeHistogramZeroThreshold default in prometheus/docs
    /// docs/specs/native_histograms.md). It is a bucket boundary of every
    /// standard schema, as the specification recommends, and far below any
    /// recordable non-zero value, so the zero bucket holds exactly the zeros.
    /// It must be positive: Prometheus 2.42 takes a histogram whose zero
    /// threshold, zero count and deltas are all zero for a classic one.
    /// </summary>
    public const double DefaultZeroThreshold = 2.938735877055719e-39;

    /// <summary>Schema 3: 8 buckets per power of two, each about 9 % wider than the last (client_golang's default factor 1.1 gives the same).</summary>
    public const int DefaultSchema = 3;

    /// <summary>Durations recorded in nanoseconds and exposed in seconds, with <see cref="HttpDurationBounds"/>.</summary>
    public static HistogramOptions DurationSeconds { get; } = new() { ValueDivisor = 1_000_000_000, Unit = "seconds" };

    /// <summary>Classic upper bounds (inclusive) in the exposed unit, ascending; +Inf is implied.</summary>
    public IReadOnlyList<double> Bounds { get; init; } = HttpDurationBounds;

    /// <summary>Recorded integers are exposed divided by this: 1,000,000,000 records nanoseconds and exposes seconds.</summary>
    public long ValueDivisor { get; init; } = 1;

    /// <summary>The family's unit (<c>seconds</c>); must end the family name. Empty when none.</summary>
    public string Unit { get; init; } = "";

    /// <summary>
    /// Native histogram schema n, −4..8: bucket i holds (b^(i−1), b^i] with
    /// b = 2^(2^−n) (prometheus/docs, docs/specs/native_histograms.md, "Schema").
    /// </summary>
    public int NativeSchema { get; init; } = DefaultSchema;

    /// <summary>Observations at or below this (exposed unit) count in the zero bucket.</summary>
    public double NativeZeroThreshold { get; init; } = DefaultZeroThreshold;
}
