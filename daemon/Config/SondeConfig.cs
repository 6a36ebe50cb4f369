namespace Sonde.Config;

/// <summary>
/// The effective configuration of `sonde run`: the JSON file (JSONC: comments
/// and trailing commas allowed) with <c>SONDE_</c> environment overrides applied
/// and every default filled in (see <see cref="ConfigFile"/>). Immutable; a
/// reload builds a new one.
/// </summary>
public sealed record SondeConfig
{
    public IReadOnlyList<TargetSelector> Targets { get; init; } = [];
    public MetricsConfig Metrics { get; init; } = new();
    public OtlpConfig Otlp { get; init; } = new();
    public TracingConfig Tracing { get; init; } = new();
    public LogConfig Log { get; init; } = new();

    public bool Equals(SondeConfig? other) => other is not null && Targets.SequenceEqual(other.Targets)
        && Metrics == other.Metrics && Otlp == other.Otlp && Tracing == other.Tracing && Log == other.Log;

    public override int GetHashCode() => HashCode.Combine(Targets.Count, Metrics, Otlp, Tracing, Log);
}
