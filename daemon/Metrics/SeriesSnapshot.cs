namespace Sonde.Metrics;

/// <summary>One series' values at one collection.</summary>
public sealed class SeriesSnapshot
{
    internal SeriesSnapshot(IReadOnlyList<string> labelValues, long createdUnixNano, double value, HistogramSnapshot? histogram)
    {
        LabelValues = labelValues;
        CreatedUnixNano = createdUnixNano;
        Value = value;
        Histogram = histogram;
    }

    public IReadOnlyList<string> LabelValues { get; }

    public long CreatedUnixNano { get; }

    /// <summary>A counter's or gauge's value in the family's unit; 0 for a histogram.</summary>
    public double Value { get; }

    /// <summary>A histogram's buckets, count and sum; null for counters and gauges.</summary>
    public HistogramSnapshot? Histogram { get; }
}
