namespace Sonde.Metrics;

/// <summary>
/// A family of <see cref="HistogramSeries"/> sharing one bucket layout
/// (<see cref="HistogramOptions"/>). Exposed as a classic histogram
/// (<c>_bucket{le}</c>, <c>_sum</c>, <c>_count</c>) in the text formats, and as
/// classic and native buckets in one message in the protobuf format.
/// </summary>
public sealed class HistogramFamily : MetricFamily
{
    private readonly SeriesTable<HistogramSeries> _table;
    private readonly HistogramLayout _layout;

    internal HistogramFamily(string name, string help, IReadOnlyList<string> labelNames, HistogramOptions options,
        int maxSeries, OtlpNaming? otlp, Func<long> clock, Action onOverflow)
        : base(name, help, MetricType.Histogram, options.Unit, labelNames, otlp)
    {
        Options = options;
        _layout = new HistogramLayout(options);
        _table = new SeriesTable<HistogramSeries>(labelNames.Count, maxSeries, labels => new HistogramSeries(labels, clock(), _layout), onOverflow);
    }

    public HistogramOptions Options { get; }

    public override int MaxSeries => _table.MaxSeries;

    public override int SeriesCount => _table.Count;

    /// <summary>The series for these label values (see <see cref="CounterFamily.WithLabels"/>).</summary>
    public HistogramSeries WithLabels(params ReadOnlySpan<string> labelValues) => _table.Get(labelValues);

    public bool IsOverflow(HistogramSeries series) => _table.IsOverflow(series);

    internal override FamilySnapshot? Snapshot()
    {
        var all = _table.Snapshot();
        if (all.Length == 0) return null;
        var series = new SeriesSnapshot[all.Length];
        for (var i = 0; i < all.Length; i++)
            series[i] = new SeriesSnapshot(all[i].LabelValues, all[i].CreatedUnixNano, 0, all[i].Snapshot());
        return new FamilySnapshot(this, series);
    }
}
