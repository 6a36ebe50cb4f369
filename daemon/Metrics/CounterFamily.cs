namespace Sonde.Metrics;

/// <summary>A family of <see cref="CounterSeries"/>; exposed with the <c>_total</c> suffix.</summary>
public sealed class CounterFamily : MetricFamily
{
    private readonly SeriesTable<CounterSeries> _table;

    internal CounterFamily(string name, string help, IReadOnlyList<string> labelNames, string unit, long valueDivisor,
        int maxSeries, OtlpNaming? otlp, Func<long> clock, Action onOverflow)
        : base(name, help, MetricType.Counter, unit, labelNames, otlp)
    {
        ValueDivisor = valueDivisor;
        _table = new SeriesTable<CounterSeries>(labelNames.Count, maxSeries, labels => new CounterSeries(labels, clock()), onOverflow);
    }

    /// <summary>Recorded integers are exposed divided by this (1e9: record nanoseconds, expose seconds).</summary>
    public long ValueDivisor { get; }

    public override int MaxSeries => _table.MaxSeries;

    public override int SeriesCount => _table.Count;

    /// <summary>
    /// The series for these label values (in label-name order), created on
    /// first use; the overflow series once the family is full. Allocates only
    /// when it creates a series.
    /// </summary>
    public CounterSeries WithLabels(params ReadOnlySpan<string> labelValues) => _table.Get(labelValues);

    /// <summary>Whether <paramref name="series"/> is this family's overflow series.</summary>
    public bool IsOverflow(CounterSeries series) => _table.IsOverflow(series);

    internal override FamilySnapshot? Snapshot()
    {
        var all = _table.Snapshot();
        if (all.Length == 0) return null;
        var series = new SeriesSnapshot[all.Length];
        for (var i = 0; i < all.Length; i++)
            series[i] = new SeriesSnapshot(all[i].LabelValues, all[i].CreatedUnixNano, (double)all[i].Total / ValueDivisor, null);
        return new FamilySnapshot(this, series);
    }
}
