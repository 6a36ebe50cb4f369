namespace Sonde.Metrics;

/// <summary>
/// A histogram series: count, exact sum, classic buckets and native buckets,
/// updated together by <see cref="Observe"/> without locks or allocation.
/// </summary>
/// <remarks>
/// <para>
/// Consistency: the series is a sequence lock. A writer makes the version odd
/// (one interlocked compare-exchange, which also keeps two writers apart),
/// updates every field, and makes it even again. A reader copies the fields
/// between two reads of the version and keeps the copy only if the version
/// was even and unchanged, so <b>a snapshot is always exact</b>: its count
/// equals the sum of its classic buckets and of its native buckets plus the
/// zero bucket, and its sum is the sum of exactly those observations. A
/// snapshot may lag the writer by the observations made while it was taken,
/// never mix two states. The writer never waits for a reader; a reader that
/// loses the race 64 times in a row (a writer hammering this one series)
/// takes the writer's side of the lock for the copy (a microsecond or so).
/// </para>
/// <para>
/// The sum is kept in 128 bits of recorded units: 2^64 ns is 584 years of
/// request time, which a busy series can add up in months.
/// </para>
/// </remarks>
public sealed class HistogramSeries : MetricSeries
{
    private const int OptimisticReads = 64;

    [ThreadStatic] private static long[]? t_nativeScratch;
    [ThreadStatic] private static bool[]? t_chunkScratch;

    private readonly HistogramLayout _layout;
    private readonly long[] _classic;
    private readonly long[]?[] _chunks;
    private int _version;
    private long _count;
    private UInt128 _sum;
    private long _zeroCount;

    internal HistogramSeries(string[] labelValues, long createdUnixNano, HistogramLayout layout) : base(labelValues, createdUnixNano)
    {
        _layout = layout;
        _classic = new long[layout.BoundTicks.Length + 1];
        _chunks = new long[]?[layout.ChunkCount];
    }

    /// <summary>Observations so far (a single read; it may run ahead of a snapshot taken just before).</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>
    /// Records one value, in recorded units (nanoseconds for a duration
    /// family). Allocation-free, except the first time a value lands in a
    /// power of two this series has never seen (one small array).
    /// </summary>
    public void Observe(ulong value)
    {
        int classic = _layout.ClassicBucket(value);
        long[]? chunk = null;
        if (_layout.NativeSlot(value, out int chunkIndex, out int slot))
            chunk = _chunks[chunkIndex] ?? NewChunk(chunkIndex);

        int version = EnterWrite();
        _classic[classic]++;
        if (chunk is null) _zeroCount++;
        else chunk[slot]++;
        _count++;
        _sum += value;
        Volatile.Write(ref _version, version + 2);
    }

    internal HistogramSnapshot Snapshot()
    {
        var layout = _layout;
        var classic = new long[_classic.Length];
        int slots = layout.ChunkCount << layout.ChunkShift;
        var native = t_nativeScratch is { } n && n.Length >= slots ? n : t_nativeScratch = new long[slots];
        var present = t_chunkScratch is { } p && p.Length >= layout.ChunkCount ? p : t_chunkScratch = new bool[layout.ChunkCount];
        long count, zero;
        UInt128 sum;
        var spin = new SpinWait();
        for (var attempt = 0; ; attempt++)
        {
            bool locked = attempt >= OptimisticReads;
            int version = locked ? EnterWrite() : Volatile.Read(ref _version);
            if ((version & 1) != 0) { spin.SpinOnce(); continue; }

            count = _count;
            sum = _sum;
            zero = _zeroCount;
            Array.Copy(_classic, classic, classic.Length);
            for (var c = 0; c < _chunks.Length; c++)
            {
                var chunk = _chunks[c];
                present[c] = chunk is not null;
                if (chunk is not null) Array.Copy(chunk, 0, native, c << layout.ChunkShift, chunk.Length);
            }

            if (locked) { Volatile.Write(ref _version, version + 2); break; }
            Interlocked.MemoryBarrier(); // the copies above happen before the version is read again
            if (Volatile.Read(ref _version) == version) break;
            spin.SpinOnce();
        }

        int nonEmpty = 0;
        for (var c = 0; c < layout.ChunkCount; c++)
        {
            if (!present[c]) continue;
            for (var s = 0; s < layout.ChunkSize; s++)
                if (native[(c << layout.ChunkShift) + s] != 0) nonEmpty++;
        }
        var indexes = new int[nonEmpty];
        var counts = new long[nonEmpty];
        int k = 0;
        for (var c = 0; c < layout.ChunkCount; c++)
        {
            if (!present[c]) continue;
            for (var s = 0; s < layout.ChunkSize; s++)
            {
                long v = native[(c << layout.ChunkShift) + s];
                if (v == 0) continue;
                indexes[k] = layout.IndexOf(c, s);
                counts[k++] = v;
            }
        }
        double sumValue = layout.Divisor == 1 ? (double)sum : (double)sum / layout.Divisor;
        return new HistogramSnapshot(count, sumValue, layout.Bounds, layout.BoundLabels, classic, layout.Schema, layout.ZeroThreshold, zero, indexes, counts);
    }

    private int EnterWrite()
    {
        int version = Volatile.Read(ref _version);
        if ((version & 1) == 0 && Interlocked.CompareExchange(ref _version, version + 1, version) == version) return version;
        return EnterWriteContended();
    }

    private int EnterWriteContended()
    {
        var spin = new SpinWait();
        while (true)
        {
            spin.SpinOnce();
            int version = Volatile.Read(ref _version);
            if ((version & 1) == 0 && Interlocked.CompareExchange(ref _version, version + 1, version) == version) return version;
        }
    }

    // Allocated outside the write section, so that an allocation failure can
    // never leave the version odd; a racing writer's chunk wins.
    private long[] NewChunk(int index) =>
        Interlocked.CompareExchange(ref _chunks[index], new long[_layout.ChunkSize], null) ?? _chunks[index]!;
}
