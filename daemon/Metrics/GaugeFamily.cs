namespace Sonde.Metrics;

/// <summary>A family of <see cref="GaugeSeries"/>.</summary>
public sealed class GaugeFamily : MetricFamily
{
    private readonly SeriesTable<GaugeSeries> _table;

    internal GaugeFamily(string name, string help, IReadOnlyList<string> labelNames, string unit,
        int maxSeries, OtlpNaming? otlp, Func<long> clock, Action onOverflow)
        : base(name, help, MetricType.Gauge, unit, labelNames, otlp)
    {
        _table = new SeriesTable<GaugeSeries>(labelNames.Count, maxSeries, labels => new GaugeSeries(labels, clock()), onOverflow);
    }

    public override int MaxSeries => _table.MaxSeries;

    public override int SeriesCount => _table.Count;

    /// <summary>The series for these label values (see <see cref="CounterFamily.WithLabels"/>).</summary>
    public GaugeSeries WithLabels(params ReadOnlySpan<string> labelValues) => _table.Get(labelValues);

    public bool IsOverflow(GaugeSeries series) => _table.IsOverflow(series);

    internal override FamilySnapshot? Snapshot()
    {
        var all = _table.Snapshot();
        if (all.Length == 0) return null;
        var series = new SeriesSnapshot[all.Length];
        for (var i = 0; i < all.Length; i++)
            series[i] = new SeriesSnapshot(all[i].LabelValues, all[i].CreatedUnixNano, all[i].Value, null);
        return new FamilySnapshot(this, series);
    }
}
