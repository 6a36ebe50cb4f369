using System.Diagnostics;
using System.IO.Pipelines;
using Sonde.RingBuffer;

namespace Sonde.Bench;

/// <summary>
/// Sonde's consuming loop (daemon/Tracing/HttpTracer.cs, RunAsync and
/// Consume) with a decoder of bench records in place of the request sink:
/// ReadAsync, walk the records in place with <see cref="RingBufferRecords"/>,
/// AdvanceTo past them. Counts the bytes allocated on the consuming thread
/// between awaits (the continuation may run on another pool thread).
/// </summary>
internal sealed class ReaderLoop
{
    private static readonly TimeSpan IdleTick = TimeSpan.FromMilliseconds(100);   // HttpTracer.IdleTick

    private readonly RingBufferReader _reader;
    private readonly RecordTally _tally;
    private long _threadBytes;
    private long _batches;
    private long _readTicks;

    public ReaderLoop(RingBufferReader reader, RecordTally tally)
    {
        _reader = reader;
        _tally = tally;
    }

    public long ThreadBytes => Volatile.Read(ref _threadBytes);

    /// <summary>Seconds <see cref="Drain"/> spent in TryRead: finding where complete records end.</summary>
    public double ReadSeconds => (double)_readTicks / Stopwatch.Frequency;

    public void ResetReadSeconds() => _readTicks = 0;

    /// <summary>Reads that returned records.</summary>
    public long Batches => Volatile.Read(ref _batches);

    /// <summary>HttpTracer.RunAsync's loop, until <paramref name="stop"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        using (stop.Register(static s => ((RingBufferReader)s!).CancelPendingRead(), _reader))
        using (new Timer(static s => ((RingBufferReader)s!).CancelPendingRead(), _reader, IdleTick, IdleTick))
        {
            while (!stop.IsCancellationRequested)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                var pending = _reader.ReadAsync();
                Volatile.Write(ref _threadBytes, _threadBytes + GC.GetAllocatedBytesForCurrentThread() - before);
                var result = await pending.ConfigureAwait(false);
                before = GC.GetAllocatedBytesForCurrentThread();
                Consume(result);
                Volatile.Write(ref _threadBytes, _threadBytes + GC.GetAllocatedBytesForCurrentThread() - before);
                if (result.IsCompleted) return;
            }
        }
    }

    /// <summary>
    /// Reads what the ring holds now, without waiting: HttpTracer.RunAsync's
    /// final drain, except that a canceled read (a CancelPendingRead that came
    /// while no read was pending: the stop token's or the idle timer's) is
    /// skipped instead of ending the drain.
    /// </summary>
    public void Drain()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        long t0 = Stopwatch.GetTimestamp();
        while (_reader.TryRead(out var rest))
        {
            long t1 = Stopwatch.GetTimestamp();
            _readTicks += t1 - t0;
            if (rest.IsCanceled) { _reader.AdvanceTo(rest.Buffer.Start); t0 = Stopwatch.GetTimestamp(); continue; }
            if (rest.Buffer.IsEmpty) { _reader.AdvanceTo(rest.Buffer.Start); break; }
            Consume(rest);
            t0 = Stopwatch.GetTimestamp();
        }
        Volatile.Write(ref _threadBytes, _threadBytes + GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>HttpTracer.Consume, decoding bench records.</summary>
    private void Consume(ReadResult result)
    {
        if (result.IsCanceled || result.Buffer.IsEmpty)
        {
            _reader.AdvanceTo(result.Buffer.Start);
            return;
        }
        Volatile.Write(ref _batches, _batches + 1);
        var records = new RingBufferRecords(result.Buffer.FirstSpan);
        while (records.MoveNext())
            _tally.Add(records.Current);
        _reader.AdvanceTo(result.Buffer.GetPosition(records.Consumed));
    }
}
