namespace Sonde.Metrics;

/// <summary>
/// Every non-empty family of a registry, ordered by name: what one scrape or
/// one OTLP export sends. Each series is read exactly (see
/// <see cref="HistogramSeries"/>: a histogram's count, sum and buckets always
/// describe the same observations), but series are read one after another,
/// so two series of one snapshot may be some observations apart.
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
