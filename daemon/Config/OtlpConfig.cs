namespace Sonde.Config;

/// <summary>The <c>otlp</c> section: periodic push of the same histograms over OTLP.</summary>
public sealed record OtlpConfig
{
    public bool Enabled { get; init; }

    /// <summary>Collector URL (http or https); required when <see cref="Enabled"/>.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>Time between exports: 1s..1h.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Deadline of one export: more than 0, at most <see cref="Interval"/>.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Extra request headers (authentication, tenant), name → value.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    public bool Equals(OtlpConfig? other) => other is not null && Enabled == other.Enabled && Endpoint == other.Endpoint
        && Interval == other.Interval && Timeout == other.Timeout
        && Headers.Count == other.Headers.Count && Headers.All(h => other.Headers.TryGetValue(h.Key, out var v) && v == h.Value);

    public override int GetHashCode() => HashCode.Combine(Enabled, Endpoint, Interval, Timeout, Headers.Count);
}
