namespace Sonde.Metrics;

/// <summary>
/// The bucket geometry every series of one histogram family shares: classic
/// bounds converted to recorded integer units, and where each native bucket
/// lives in a series' storage.
/// </summary>
/// <remarks>
/// Native buckets are stored in chunks of 2^max(schema, 0) counters (one power
/// of two's worth at positive schemas), allocated the first time a value
/// lands in them, so a series holds only the decades it has seen. The chunk
/// table covers every value a <c>ulong</c> can record: from the smallest value
/// above the zero threshold to <c>ulong.MaxValue / ValueDivisor</c>
/// (nanoseconds to seconds at schema 3: 66 chunks of 8).
/// </remarks>
internal sealed class HistogramLayout
{
    public HistogramLayout(HistogramOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ValueDivisor < 1) throw new ArgumentOutOfRangeException(nameof(options), options.ValueDivisor, "ValueDivisor must be at least 1");
        if (options.NativeSchema is < NativeBuckets.MinSchema or > NativeBuckets.MaxSchema)
            throw new ArgumentOutOfRangeException(nameof(options), options.NativeSchema, $"NativeSchema must be within {NativeBuckets.MinSchema}..{NativeBuckets.MaxSchema}");
        if (!(options.NativeZeroThreshold >= 0) || double.IsInfinity(options.NativeZeroThreshold))
            throw new ArgumentOutOfRangeException(nameof(options), options.NativeZeroThreshold, "NativeZeroThreshold must be finite and not negative");

        Divisor = options.ValueDivisor;
        Schema = options.NativeSchema;
        ZeroThreshold = options.NativeZeroThreshold;
        Bounds = [.. options.Bounds];
        BoundTicks = new ulong[Bounds.Length];
        for (var i = 0; i < Bounds.Length; i++)
        {
            double b = Bounds[i];
            if (!(b > 0) || double.IsInfinity(b)) throw new ArgumentException($"bucket bound {b} must be positive and finite", nameof(options));
            if (i > 0 && !(b > Bounds[i - 1])) throw new ArgumentException($"bucket bounds must ascend: {Bounds[i - 1]} then {b}", nameof(options));
            BoundTicks[i] = ToTicksFloor(b, Divisor);
        }
        BoundLabels = [.. Bounds.Select(GoFloat.FormatCanonical)];

        // Recorded integers below MinTicks are at or under the zero threshold.
        double thresholdTicks = ZeroThreshold * Divisor;
        if (thresholdTicks >= 9.2e18) throw new ArgumentException("NativeZeroThreshold is beyond every recordable value", nameof(options));
        MinTicks = (ulong)Math.Floor(thresholdTicks) + 1;
        int minIndex = NativeBuckets.Index(ToValue(MinTicks), Schema);
        int maxIndex = NativeBuckets.Index(ToValue(ulong.MaxValue), Schema);
        ChunkShift = Math.Max(Schema, 0);
        FirstChunk = minIndex >> ChunkShift;
        ChunkCount = (maxIndex >> ChunkShift) - FirstChunk + 1;
    }

    public long Divisor { get; }
    public int Schema { get; }
    public double ZeroThreshold { get; }
    public double[] Bounds { get; }

    /// <summary>The <c>le</c> label value of each bound (canonical OpenMetrics spelling), made once.</summary>
    public string[] BoundLabels { get; }

    /// <summary>Classic bounds in recorded units: v ≤ bound ⇔ ticks ≤ BoundTicks (ticks are integers).</summary>
    public ulong[] BoundTicks { get; }

    /// <summary>Smallest recorded value that is not in the zero bucket.</summary>
    public ulong MinTicks { get; }

    public int ChunkShift { get; }
    public int ChunkSize => 1 << ChunkShift;
    public int FirstChunk { get; }
    public int ChunkCount { get; }

    public double ToValue(ulong ticks) => Divisor == 1 ? ticks : (double)ticks / Divisor;

    /// <summary>Index of the classic bucket holding <paramref name="ticks"/>; Bounds.Length is the +Inf bucket.</summary>
    public int ClassicBucket(ulong ticks)
    {
        var bounds = BoundTicks;
        int lo = 0, hi = bounds.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (ticks <= bounds[mid]) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    /// <summary>Where the native bucket of <paramref name="ticks"/> is stored; false for the zero bucket.</summary>
    public bool NativeSlot(ulong ticks, out int chunk, out int slot)
    {
        if (ticks < MinTicks) { chunk = 0; slot = 0; return false; }
        int index = NativeBuckets.Index(ToValue(ticks), Schema);
        chunk = (index >> ChunkShift) - FirstChunk;
        slot = index & (ChunkSize - 1);
        return true;
    }

    /// <summary>The native bucket index stored at <paramref name="chunk"/>, <paramref name="slot"/>.</summary>
    public int IndexOf(int chunk, int slot) => ((chunk + FirstChunk) << ChunkShift) + slot;

    /// <summary>floor(bound × divisor), computed in decimal so that 0.0001 s is exactly 100,000 ns.</summary>
    private static ulong ToTicksFloor(double bound, long divisor)
    {
        if (bound * divisor >= 1.8e19) return ulong.MaxValue;
        return (ulong)decimal.Floor((decimal)bound * divisor);
    }
}
