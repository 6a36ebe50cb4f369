namespace Sonde.Metrics;

/// <summary>A gauge series: a double that any thread may set or move (interlocked).</summary>
public sealed class GaugeSeries : MetricSeries
{
    private long _bits;

    internal GaugeSeries(string[] labelValues, long createdUnixNano) : base(labelValues, createdUnixNano) { }

    public double Value => BitConverter.Int64BitsToDouble(Volatile.Read(ref _bits));

    public void Set(double value) => Volatile.Write(ref _bits, BitConverter.DoubleToInt64Bits(value));

    public void Add(double delta)
    {
        long seen = Volatile.Read(ref _bits);
        while (true)
        {
            long next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + delta);
            long actual = Interlocked.CompareExchange(ref _bits, next, seen);
            if (actual == seen) return;
            seen = actual;
        }
    }

    public void Increment() => Add(1);

    public void Decrement() => Add(-1);
}
