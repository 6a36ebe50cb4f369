namespace Sonde.Metrics;

/// <summary>The series of one family as read by one <see cref="MetricsRegistry.Collect"/>, ordered by label values.</summary>
public sealed class FamilySnapshot
{
    internal FamilySnapshot(MetricFamily family, IReadOnlyList<SeriesSnapshot> series)
    {
        Family = family;
        Series = series;
    }

    /// <summary>The family (name, help, type, unit, label names).</summary>
    public MetricFamily Family { get; }

    public IReadOnlyList<SeriesSnapshot> Series { get; }
}
