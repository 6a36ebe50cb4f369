namespace Sonde.Metrics;

/// <summary>
/// Every non-empty family of a registry at one instant, ordered by name: what
/// one scrape or one OTLP export sends. See <see cref="HistogramSeries"/> for
/// how consistent one histogram's numbers are.
/// </summary>
public sealed class MetricsSnapshot
{
    internal MetricsSnapshot(long timeUnixNano, IReadOnlyList<FamilySnapshot> families)
    {
        TimeUnixNano = timeUnixNano;
        Families = families;
    }

    /// <summary>Wall-clock time of the collection, nanoseconds since the Unix epoch.</summary>
    public long TimeUnixNano { get; }

    public IReadOnlyList<FamilySnapshot> Families { get; }
}
