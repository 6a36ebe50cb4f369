namespace Sonde.Metrics;

/// <summary>Settings of <see cref="OtlpMetricsExporter"/>.</summary>
public sealed record OtlpExporterOptions
{
    /// <summary>
    /// The collector's base URL (<c>http://collector:4318</c>); requests go to
    /// <c>{Endpoint}/v1/metrics</c>, OTLP/HTTP's default metrics path. An
    /// endpoint that already ends in <c>/v1/metrics</c> is used as it is.
    /// </summary>
    public required Uri Endpoint { get; init; }

    /// <summary>Time between exports when they succeed.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Deadline of one export request, connection included.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Extra request headers (authentication, tenant).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    public OtlpHistogramKind HistogramKind { get; init; } = OtlpHistogramKind.Explicit;

    /// <summary>
    /// Label whose value becomes the resource's <c>service.name</c>: series of
    /// different traced services are exported as different resources, the way
    /// an SDK inside each service would report them; the label itself is not
    /// repeated as an attribute.
    /// </summary>
    public string ServiceLabel { get; init; } = "service";

    /// <summary><c>service.name</c> of series without <see cref="ServiceLabel"/> (Sonde's own metrics).</summary>
    public string ServiceName { get; init; } = "sonde";

    /// <summary>Attributes added to every resource (<c>host.name</c>, <c>deployment.environment</c>).</summary>
    public IReadOnlyDictionary<string, string> ResourceAttributes { get; init; } = new Dictionary<string, string>();

    /// <summary>First retry delay after a retryable failure; doubles per failure (with jitter) up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest <c>Retry-After</c> honoured; a longer one is cut to this.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Whether stopping makes one last export (bounded by <see cref="Timeout"/>), so the last interval is not lost.</summary>
    public bool ExportOnStop { get; init; } = true;
}
