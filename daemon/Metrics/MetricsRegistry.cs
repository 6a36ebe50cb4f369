using System.Text.RegularExpressions;

namespace Sonde.Metrics;

/// <summary>
/// The metric families of one process, and the one place that reads them all
/// (<see cref="Collect"/>) for a scrape or an OTLP export.
/// </summary>
/// <remarks>
/// Families are created once, at start-up, by the code that records into
/// them; recording never goes through the registry. Every family caps its
/// series (<see cref="MaxSeriesPerFamily"/> unless it says otherwise); label
/// sets past the cap go to the family's overflow series (every label
/// <c>other</c>) and are counted in
/// <c>sonde_metric_series_overflow_total{metric}</c>. Thread-safe.
/// </remarks>
public sealed partial class MetricsRegistry
{
    /// <summary>Default cap on the distinct label sets of one family.</summary>
    public const int DefaultMaxSeriesPerFamily = 2000;

    private readonly object _lock = new();
    private readonly object _collectLock = new();
    private readonly SortedDictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);
    private readonly HashSet<string> _sampleNames = new(StringComparer.Ordinal);
    private readonly List<Action> _refreshers = [];
    private readonly CounterFamily _seriesOverflow;
    private readonly CounterSeries _refreshErrors;
    private MetricFamily[] _ordered = [];

    public MetricsRegistry(int maxSeriesPerFamily = DefaultMaxSeriesPerFamily, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSeriesPerFamily, 1);
        MaxSeriesPerFamily = maxSeriesPerFamily;
        Time = time ?? TimeProvider.System;
        // One series per family at most, so never capped (and never recursing).
        _seriesOverflow = AddCounter("sonde_metric_series_overflow",
            "Label sets recorded into a family's overflow series (every label \"other\") because the family had reached its series cap.",
            ["metric"], maxSeries: int.MaxValue);
        _refreshErrors = AddCounter("sonde_metric_refresh_errors",
            "Collection callbacks that threw; the scrape went on with the values they had set before.").WithLabels();
    }

    public int MaxSeriesPerFamily { get; }

    /// <summary>Clock of series creation times and snapshot times.</summary>
    public TimeProvider Time { get; }

    /// <summary>The families, ordered by name.</summary>
    public IReadOnlyList<MetricFamily> Families => Volatile.Read(ref _ordered);

    /// <summary>
    /// A counter family. <paramref name="name"/> may end in <c>_total</c> or not;
    /// the family's name is without it and the samples carry it. Adding a
    /// family that exists with the same type, unit and label names returns
    /// the existing one; any other clash of names throws.
    /// </summary>
    /// <param name="labelNames">Label names, in the order WithLabels takes values.</param>
    /// <param name="unit">Base unit, a suffix of the name (<c>seconds</c>); empty when none.</param>
    /// <param name="valueDivisor">Recorded integers are exposed divided by this.</param>
    /// <param name="maxSeries">Series cap; 0 takes <see cref="MaxSeriesPerFamily"/>.</param>
    public CounterFamily AddCounter(string name, string help, IReadOnlyList<string>? labelNames = null, string unit = "",
        long valueDivisor = 1, int maxSeries = 0, OtlpNaming? otlp = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(valueDivisor, 1);
        if (name.EndsWith("_total", StringComparison.Ordinal)) name = name[..^"_total".Length];
        var labels = Validate(name, help, unit, labelNames, MetricType.Counter, otlp);
        return Register(new CounterFamily(name, help, labels, unit, valueDivisor, Cap(maxSeries), otlp, NowUnixNano, OverflowCounter(name)),
            [name + "_total", name + "_created"]);
    }

    /// <summary>A gauge family (parameters as for <see cref="AddCounter"/>).</summary>
    public GaugeFamily AddGauge(string name, string help, IReadOnlyList<string>? labelNames = null, string unit = "",
        int maxSeries = 0, OtlpNaming? otlp = null)
    {
        var labels = Validate(name, help, unit, labelNames, MetricType.Gauge, otlp);
        return Register(new GaugeFamily(name, help, labels, unit, Cap(maxSeries), otlp, NowUnixNano, OverflowCounter(name)), [name]);
    }

    /// <summary>A histogram family (parameters as for <see cref="AddCounter"/>; the unit is <see cref="HistogramOptions.Unit"/>).</summary>
    public HistogramFamily AddHistogram(string name, string help, HistogramOptions options, IReadOnlyList<string>? labelNames = null,
        int maxSeries = 0, OtlpNaming? otlp = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var labels = Validate(name, help, options.Unit, labelNames, MetricType.Histogram, otlp);
        return Register(new HistogramFamily(name, help, labels, options, Cap(maxSeries), otlp, NowUnixNano, OverflowCounter(name)),
            [name + "_bucket", name + "_sum", name + "_count", name + "_created"]);
    }

    /// <summary>
    /// Runs <paramref name="refresh"/> at the start of every collection, on
    /// the collecting thread, before anything is read: the place to set
    /// gauges from the kernel (ring fill, BPF run time). Collections are
    /// serialised, so callbacks never run concurrently with each other. A
    /// callback that throws is counted in
    /// <c>sonde_metric_refresh_errors_total</c> and the collection goes on.
    /// </summary>
    public void AddRefresh(Action refresh)
    {
        ArgumentNullException.ThrowIfNull(refresh);
        lock (_lock) _refreshers.Add(refresh);
    }

    /// <summary>Reads every family with at least one series, ordered by name.</summary>
    public MetricsSnapshot Collect()
    {
        lock (_collectLock)
        {
            Action[] refreshers;
            lock (_lock) refreshers = [.. _refreshers];
            foreach (var refresh in refreshers)
            {
                try { refresh(); }
#pragma warning disable CA1031 // a failing gauge source must not take the whole scrape down
                catch (Exception) { _refreshErrors.Increment(); }
#pragma warning restore CA1031
            }
            var families = new List<FamilySnapshot>();
            foreach (var family in Families)
                if (family.Snapshot() is { } snapshot) families.Add(snapshot);
            return new MetricsSnapshot(NowUnixNano(), families);
        }
    }

    internal long NowUnixNano() => (Time.GetUtcNow().UtcTicks - DateTime.UnixEpoch.Ticks) * 100;

    private int Cap(int maxSeries)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSeries);
        return maxSeries == 0 ? MaxSeriesPerFamily : maxSeries;
    }

    private Action OverflowCounter(string family)
    {
        CounterSeries? series = null;
        return () => (series ??= _seriesOverflow.WithLabels(family)).Increment();
    }

    private TFamily Register<TFamily>(TFamily family, string[] sampleNames) where TFamily : MetricFamily
    {
        lock (_lock)
        {
            // The same definition again (an exporter restarted by a reload)
            // gets the family that exists, so its counts go on.
            if (_families.TryGetValue(family.Name, out var existing) && existing is TFamily same
                && same.Unit == family.Unit && same.LabelNames.SequenceEqual(family.LabelNames, StringComparer.Ordinal))
                return same;
            if (_families.ContainsKey(family.Name) || sampleNames.Any(_sampleNames.Contains) || _sampleNames.Contains(family.Name))
                throw new ArgumentException($"metric {family.Name} clashes with a metric already registered", nameof(family));
            _families.Add(family.Name, family);
            foreach (var n in sampleNames) _sampleNames.Add(n);
            Volatile.Write(ref _ordered, [.. _families.Values]);
        }
        return family;
    }

    private static string[] Validate(string name, string help, string unit, IReadOnlyList<string>? labelNames, MetricType type, OtlpNaming? otlp)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(help);
        ArgumentNullException.ThrowIfNull(unit);
        if (!MetricName().IsMatch(name)) throw new ArgumentException($"'{name}' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", nameof(name));
        if (unit.Length > 0 && !name.EndsWith("_" + unit, StringComparison.Ordinal))
            throw new ArgumentException($"metric {name}: the unit '{unit}' must be the name's suffix (OpenMetrics)", nameof(unit));
        string[] labels = labelNames is null ? [] : [.. labelNames];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var label in labels)
        {
            if (label is null || !LabelName().IsMatch(label) || label.StartsWith("__", StringComparison.Ordinal))
                throw new ArgumentException($"metric {name}: '{label}' is not a valid label name", nameof(labelNames));
            if (type == MetricType.Histogram && label == "le")
                throw new ArgumentException($"metric {name}: a histogram cannot have a label 'le'", nameof(labelNames));
            if (!seen.Add(label)) throw new ArgumentException($"metric {name}: label '{label}' appears twice", nameof(labelNames));
        }
        if (otlp?.AttributeNames is { } attributes && attributes.Count != labels.Length)
            throw new ArgumentException($"metric {name}: {attributes.Count} OTLP attribute names for {labels.Length} labels", nameof(otlp));
        return labels;
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();
}
