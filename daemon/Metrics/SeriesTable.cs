namespace Sonde.Metrics;

/// <summary>
/// The series of one family, found by label values, with the family's cap:
/// once <see cref="MaxSeries"/> distinct label sets exist, any further label
/// set is given the overflow series, whose every label value is
/// <see cref="OverflowValue"/>, and the refusal is counted. The overflow series
/// is the one extra series a capped family may hold.
/// </summary>
/// <remarks>
/// Lookups take a lock: they are meant for resolving a series once, not for
/// every event (hot paths keep the series they resolved). A lookup of an
/// existing label set, or one that overflows, allocates nothing.
/// </remarks>
internal sealed class SeriesTable<TSeries> where TSeries : MetricSeries
{
    /// <summary>Label value of every label of the overflow series.</summary>
    public const string OverflowValue = "other";

    private readonly Dictionary<string[], TSeries> _series = new(LabelValuesComparer.Instance);
    private readonly Dictionary<string[], TSeries>.AlternateLookup<ReadOnlySpan<string>> _bySpan;
    private readonly Func<string[], TSeries> _create;
    private readonly Action _onOverflow;
    private readonly int _labelCount;
    private readonly object _lock = new();
    private TSeries? _overflow;
    private int _regularCount;

    /// <param name="labelCount">Number of label values every lookup must give.</param>
    /// <param name="maxSeries">Distinct label sets kept before overflowing.</param>
    /// <param name="create">Makes a series for a new label set (called under the table's lock).</param>
    /// <param name="onOverflow">Called once per lookup that was given the overflow series.</param>
    public SeriesTable(int labelCount, int maxSeries, Func<string[], TSeries> create, Action onOverflow)
    {
        _labelCount = labelCount;
        MaxSeries = maxSeries;
        _create = create;
        _onOverflow = onOverflow;
        _bySpan = _series.GetAlternateLookup<ReadOnlySpan<string>>();
    }

    public int MaxSeries { get; }

    public int Count { get { lock (_lock) return _series.Count; } }

    public TSeries Get(ReadOnlySpan<string> labelValues)
    {
        if (labelValues.Length != _labelCount)
            throw new ArgumentException($"expected {_labelCount} label values, got {labelValues.Length}", nameof(labelValues));
        lock (_lock)
        {
            if (_bySpan.TryGetValue(labelValues, out var found)) return found;
            if (_regularCount < MaxSeries)
            {
                var key = LabelValuesComparer.Instance.Create(labelValues);
                var created = _create(key);
                _series.Add(key, created);
                _regularCount++;
                return created;
            }
        }
        _onOverflow();
        return Overflow();
    }

    /// <summary>Whether <paramref name="series"/> is the overflow series.</summary>
    public bool IsOverflow(TSeries series) => ReferenceEquals(series, Volatile.Read(ref _overflow));

    /// <summary>Every series, ordered by label values (ordinal), for a stable exposition.</summary>
    public TSeries[] Snapshot()
    {
        TSeries[] all;
        lock (_lock) all = [.. _series.Values];
        Array.Sort(all, static (a, b) =>
        {
            for (var i = 0; i < a.LabelValues.Count; i++)
            {
                int c = string.CompareOrdinal(a.LabelValues[i], b.LabelValues[i]);
                if (c != 0) return c;
            }
            return 0;
        });
        return all;
    }

    private TSeries Overflow()
    {
        lock (_lock)
        {
            if (_overflow is not null) return _overflow;
            var key = new string[_labelCount];
            Array.Fill(key, OverflowValue);
            // A real label set of all "other" may already exist: share it
            // rather than expose the same label set twice.
            if (!_series.TryGetValue(key, out var series))
            {
                series = _create(key);
                _series.Add(key, series);
            }
            Volatile.Write(ref _overflow, series);
            return series;
        }
    }
}
