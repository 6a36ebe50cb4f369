using System.Diagnostics;
using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Sonde.Interop.LibC;

namespace Sonde.RingBuffer;

/// <summary>
/// A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read in place, as a PipeReader.
/// <para>
/// The kernel maps the consumer position page read-write at offset 0, and the
/// producer position page followed by the data area twice, back to back,
/// read-only at offset page_size — so a record never wraps
/// (kernel/bpf/ringbuf.c, ringbuf_map_mmap_kern). ReadAsync hands out the bytes
/// from the consumer position to the producer position (at most one ring's
/// worth) as one span of that mapping: records are read in place, with their
/// 8-byte headers. AdvanceTo publishes the new consumer position with release
/// semantics, which frees the space for the producer.
/// </para>
/// <para>
/// The span can end in records still being written: the producer advances its
/// position when it reserves a record (its header then has the BUSY bit) and
/// clears BUSY when it submits. Walk the span with <see cref="RingBufferRecords"/>,
/// which stops at the first busy record, and consume what it walked. Records
/// are walked once, by the consumer: a read only checks that the first
/// unconsumed record is complete (the reader used to walk every header to find
/// where complete records end, then the consumer walked them again: 57 % of a
/// drain's time, tests/bench).
/// </para>
/// <para>
/// When the ring is empty, ReadAsync completes through a reusable
/// IValueTaskSource signalled by a waiter thread blocked in epoll_wait on the
/// map fd (no allocation per wake-up), which also polls every
/// <see cref="PollInterval"/>: the BPF side batches its wake-ups.
/// </para>
/// <para>
/// With a batch size (the producer's wake-up threshold), ReadAsync also waits
/// while fewer new bytes than that are in the ring, until the producer wakes
/// it or <see cref="PollInterval"/> has passed: a consumer that keeps up with
/// a fast producer otherwise reads a few records at a time, and its reads of
/// the producer position contend with the producer for that cache line
/// (tests/bench: 8 records per read at 93 % of a core, the producer slowed by
/// a third). No record waits longer than the poll interval. TryRead returns
/// whatever is there.
/// </para>
/// </summary>
public sealed unsafe class RingBufferReader : PipeReader, IValueTaskSource<ReadResult>
{

    private readonly MemoryMapping _consumerPage;
    private readonly MemoryMapping _producerAndData;
    private readonly ulong* _consumerPos;
    private readonly ulong* _producerPos;
    private readonly byte* _data;
    private readonly ulong _mask;
    private readonly NativeMemoryManager _memory;
    private readonly Epoll _epoll;
    private readonly ulong _batchBytes;

    private ulong _cons;          // our consumer position (published in AdvanceTo)
    private ulong _examined;      // everything before this was examined by the caller (never below _cons)
    private ulong _handedOut;     // end of the span the last read handed out
    private bool _readInProgress;
    private volatile bool _cancelPending;
    private volatile bool _completed;

    /// <summary>
    /// How often an idle reader looks for new records. Producers submit without
    /// waking the reader until the ring is 1/8 full (bpf/http.bpf.c
    /// wakeup_flags), so this bounds how late a record can be seen.
    /// </summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);
    private static readonly long PollTicks = (long)(PollInterval.TotalSeconds * Stopwatch.Frequency);

    private ManualResetValueTaskSourceCore<bool> _wait;   // result: canceled
    private readonly Thread _waiter;
    private readonly SemaphoreSlim _waitRequested = new(0, 1);
    private CancellationTokenRegistration _ctr;

    /// <param name="mapFd">fd of the BPF_MAP_TYPE_RINGBUF map (owned by its BPF object).</param>
    /// <param name="size">the map's max_entries: data size in bytes, a power of two.</param>
    /// <param name="batchBytes">
    /// new bytes ReadAsync waits for (at most <see cref="PollInterval"/>): the
    /// producer's forced wake-up threshold. 0: return as soon as a record is there.
    /// </param>
    public RingBufferReader(int mapFd, uint size, uint batchBytes = 0)
    {
        if (batchBytes > size) throw new ArgumentOutOfRangeException(nameof(batchBytes), "batch larger than the ring");
        if (size == 0 || (size & (size - 1)) != 0) throw new ArgumentException("ring buffer size must be a power of two", nameof(size));
        int page = Environment.SystemPageSize;
        _consumerPage = MemoryMapping.Map(mapFd, 0, (nuint)page, writable: true);
        _producerAndData = MemoryMapping.Map(mapFd, page, (nuint)page + 2 * (nuint)size, writable: false);
        _consumerPos = (ulong*)_consumerPage.Address;
        _producerPos = (ulong*)_producerAndData.Address;
        _data = _producerAndData.Address + page;
        Size = size;
        _mask = size - 1;
        _memory = new NativeMemoryManager(_data, checked((int)(2 * (ulong)size)));
        _cons = _examined = _handedOut = Volatile.Read(ref *_consumerPos);
        _batchBytes = batchBytes;
        _epoll = Epoll.Create();
        _epoll.Add(mapFd, 0, edgeTriggered: true);
        // The continuation of a read that waited runs on the waiter thread,
        // right after epoll_wait: no hand-off to a thread-pool thread per read
        // (two context switches, measured in tests/bench). The consumer then
        // stays on that thread until its next read waits.
        _wait.RunContinuationsAsynchronously = false;
        _waiter = new Thread(WaiterLoop) { IsBackground = true, Name = "sonde-ringbuf-wait" };
        _waiter.Start();
    }

    /// <summary>Data area size in bytes.</summary>
    public uint Size { get; }

    /// <summary>Bytes written by the producer and not yet consumed.</summary>
    public ulong Pending => Volatile.Read(ref *_producerPos) - _cons;

    public override bool TryRead(out ReadResult result)
    {
        ThrowIfReading();
        if (_cancelPending)
        {
            // A canceled result is a read too: the caller answers it with AdvanceTo.
            _cancelPending = false;
            result = new ReadResult(default, isCanceled: true, isCompleted: _completed);
            _readInProgress = true;
            return true;
        }
        if (HasNewRecords() || _completed)
        {
            result = Current();
            _readInProgress = true;
            return true;
        }
        result = default;
        return false;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if ((NewBytes() >= _batchBytes || _cancelPending || _completed) && TryRead(out var r)) return new ValueTask<ReadResult>(r);
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        ThrowIfReading();
        _wait.Reset();
        if (cancellationToken.CanBeCanceled)
            _ctr = cancellationToken.UnsafeRegister(static s => ((RingBufferReader)s!).CancelPendingRead(), this);
        _readInProgress = true;
        _waitRequested.Release();
        return new ValueTask<ReadResult>(this, _wait.Version);
    }

    /// <summary>
    /// Something to read: bytes reserved beyond what the caller examined, and
    /// the first unconsumed record complete (records are consumed in order, so
    /// while it is busy nothing can be). Every position below the producer's
    /// has a header: the kernel writes it before it advances the position.
    /// </summary>
    private bool HasNewRecords() =>
        NewBytes() > 0 && (Volatile.Read(ref *(uint*)(_data + (_cons & _mask))) & RingBufferRecords.BusyBit) == 0;

    /// <summary>Bytes reserved by the producer beyond what the caller examined (never before the consumer position).</summary>
    private ulong NewBytes()
    {
        ulong prod = Volatile.Read(ref *_producerPos);   // acquire
        return prod > _examined ? prod - _examined : 0;
    }

    private ReadResult Current()
    {
        ulong prod = Volatile.Read(ref *_producerPos);
        // Never more than one ring's worth: that's all the double mapping covers.
        _handedOut = prod - _cons > Size ? _cons + Size : prod;
        int start = (int)(_cons & _mask);
        int length = (int)(_handedOut - _cons);
        var seq = new ReadOnlySequence<byte>(_memory.Memory.Slice(start, length));
        return new ReadResult(seq, isCanceled: false, isCompleted: _completed && length == 0);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (!_readInProgress) throw new InvalidOperationException("AdvanceTo without a pending read");
        _readInProgress = false;
        ulong consumedBytes = (ulong)(uint)consumed.GetInteger() - (_cons & _mask);
        ulong examinedBytes = (ulong)(uint)examined.GetInteger() - (_cons & _mask);
        if (consumed.GetObject() is null) consumedBytes = examinedBytes = 0; // default position: nothing
        if (consumedBytes > _handedOut - _cons || examinedBytes < consumedBytes)
            throw new ArgumentOutOfRangeException(nameof(consumed), "position is outside the last read");
        ulong examinedPos = _cons + examinedBytes;
        if (consumedBytes > 0)
        {
            _cons += consumedBytes;
            Volatile.Write(ref *_consumerPos, _cons);   // release: the producer may reuse the space
        }
        _examined = examinedPos > _cons ? examinedPos : _cons;
    }

    public override void CancelPendingRead()
    {
        _cancelPending = true;
        _epoll.Wake();
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed) return;
        _completed = true;
        _epoll.Wake();
    }

    private void WaiterLoop()
    {
        while (true)
        {
            _waitRequested.Wait();
            if (_disposed) return;
            bool canceled;
            // Records below the batch size are delivered once the poll interval has passed.
            long deadline = Stopwatch.GetTimestamp() + PollTicks;
            while (true)
            {
                if (_cancelPending) { _cancelPending = false; canceled = true; break; }
                if (_completed || _disposed) { canceled = false; break; }
                if (HasNewRecords() && (NewBytes() >= _batchBytes || Stopwatch.GetTimestamp() >= deadline)) { canceled = false; break; }
                // Woken by the producer (a forced wake-up: the batch is there), Wake(), or the timeout.
                long left = (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                _epoll.Wait(left > 0 ? (int)left + 1 : (int)PollInterval.TotalMilliseconds);
            }
            _wait.SetResult(canceled);
        }
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token)
    {
        bool canceled = _wait.GetResult(token);
        _ctr.Dispose();
        _ctr = default;
        if (canceled) return new ReadResult(default, isCanceled: true, isCompleted: _completed);
        return Current();
    }

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _wait.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _wait.OnCompleted(continuation, state, token, flags);

    private void ThrowIfReading()
    {
        if (_readInProgress) throw new InvalidOperationException("a read is already in progress: call AdvanceTo first");
    }

    private volatile bool _disposed;

    /// <summary>Stops the waiter and unmaps the ring. The map itself belongs to its BPF object.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _completed = true;
        _disposed = true;
        _epoll.Wake();
        try { _waitRequested.Release(); } catch (SemaphoreFullException) { }
        // A consumer continued on the waiter thread may dispose from there.
        if (Thread.CurrentThread != _waiter) _waiter.Join(TimeSpan.FromSeconds(2));
        _epoll.Dispose();
        _producerAndData.Dispose();
        _consumerPage.Dispose();
    }
}
