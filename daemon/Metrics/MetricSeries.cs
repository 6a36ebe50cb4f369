namespace Sonde.Metrics;

/// <summary>
/// One time series of a family: a fixed tuple of label values and its state.
/// Callers resolve a series once (<c>WithLabels</c>) and keep it: recording
/// into a held series is lock-free and allocation-free.
/// </summary>
public abstract class MetricSeries
{
    private protected MetricSeries(string[] labelValues, long createdUnixNano)
    {
        LabelValues = labelValues;
        CreatedUnixNano = createdUnixNano;
    }

    /// <summary>Values of the family's labels, in the family's label order.</summary>
    public IReadOnlyList<string> LabelValues { get; }

    /// <summary>When the series was created: the start of its cumulative counts (OTLP start time).</summary>
    public long CreatedUnixNano { get; }
}
