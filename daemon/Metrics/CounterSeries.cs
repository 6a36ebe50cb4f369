namespace Sonde.Metrics;

/// <summary>
/// A counter series: a 64-bit integer count, exposed divided by the family's
/// <see cref="CounterFamily.ValueDivisor"/> (so a counter of nanoseconds is
/// exposed in seconds, exactly summed). Any thread may update it; every update
/// is one interlocked instruction.
/// </summary>
public sealed class CounterSeries : MetricSeries
{
    private long _total;

    internal CounterSeries(string[] labelValues, long createdUnixNano) : base(labelValues, createdUnixNano) { }

    /// <summary>The count, in recorded (integer) units.</summary>
    public long Total => Volatile.Read(ref _total);

    public void Increment() => Interlocked.Increment(ref _total);

    /// <summary>Adds <paramref name="delta"/> (not negative: a counter never goes down).</summary>
    public void Add(long delta)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(delta);
        Interlocked.Add(ref _total, delta);
    }

    /// <summary>
    /// Sets the count to a total kept elsewhere (a kernel counter read from
    /// BPF maps or fdinfo). A smaller value than before reads, to Prometheus,
    /// as a counter reset (the program was reloaded).
    /// </summary>
    public void SetTotal(long total)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(total);
        Volatile.Write(ref _total, total);
    }
}
