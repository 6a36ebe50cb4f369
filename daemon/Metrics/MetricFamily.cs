namespace Sonde.Metrics;

/// <summary>
/// A named metric with a fixed list of label names, holding one series per
/// distinct tuple of label values, at most <see cref="MaxSeries"/> of them
/// plus the overflow series (every label <c>other</c>) that absorbs the rest.
/// Made by <see cref="MetricsRegistry"/>.
/// </summary>
public abstract class MetricFamily
{
    private protected MetricFamily(string name, string help, MetricType type, string unit,
        IReadOnlyList<string> labelNames, OtlpNaming? otlp)
    {
        Name = name;
        Help = help;
        Type = type;
        Unit = unit;
        LabelNames = labelNames;
        Otlp = otlp;
    }

    /// <summary>
    /// The family name. For a counter it is the name without <c>_total</c>
    /// (OpenMetrics' family name); the text format's samples add the suffix.
    /// </summary>
    public string Name { get; }

    public string Help { get; }

    public MetricType Type { get; }

    /// <summary>Base unit (<c>seconds</c>, <c>bytes</c>), a suffix of <see cref="Name"/>; empty when none.</summary>
    public string Unit { get; }

    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>Name, unit and attribute names for OTLP; null exports the Prometheus names.</summary>
    public OtlpNaming? Otlp { get; }

    /// <summary>Distinct label sets kept before new ones go to the overflow series.</summary>
    public abstract int MaxSeries { get; }

    /// <summary>Series that exist now, the overflow series included.</summary>
    public abstract int SeriesCount { get; }

    /// <summary>Reads every series; null when the family has none (families without series are not exposed).</summary>
    internal abstract FamilySnapshot? Snapshot();
}
