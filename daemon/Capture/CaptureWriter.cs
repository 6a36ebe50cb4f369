using Google.Protobuf;
using Sonde.Tracing;

namespace Sonde.Capture;

/// <summary>
/// Writes a capture file (<c>sonde trace --out</c>): the preamble and header
/// at construction, one record per <see cref="Write"/>, the trailer at
/// <see cref="Complete(ulong)"/>. The layout is documented in <c>capture.proto</c>.
/// </summary>
/// <remarks>
/// Records go through a 64 KiB buffer: call <see cref="Flush"/> now and then
/// (say every second) so that a capture killed mid-way loses little; the
/// reader returns every complete record of a cut file. Disposing without
/// <see cref="Complete(ulong)"/> leaves the file without a trailer, which
/// readers report as truncated. Per request the writer reuses one message and
/// one byte buffer; the only allocations are the three small ByteString
/// wrappers protobuf needs. Not thread-safe.
/// </remarks>
public sealed class CaptureWriter : IDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly CodedOutputStream _coded;
    private readonly CapturedRequest _request = new();
    private readonly CaptureRecord _requestRecord = new();
    private byte[] _stringBytes = new byte[1024];
    private bool _completed;
    private bool _disposed;

    /// <summary>Writes the preamble and <paramref name="header"/> to <paramref name="output"/>.</summary>
    public CaptureWriter(Stream output, CaptureHeader header, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(header);
        _output = output;
        _leaveOpen = leaveOpen;
        Span<byte> preamble = stackalloc byte[CaptureFormat.PreambleLength];
        CaptureFormat.Magic.CopyTo(preamble);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(preamble[8..], CaptureFormat.Version);
        output.Write(preamble);
        _coded = new CodedOutputStream(output, BufferSize, leaveOpen: true);
        _requestRecord.Request = _request;
        WriteRecord(new CaptureRecord { Header = header });
    }

    /// <summary>Creates (or replaces) the file at <paramref name="path"/> and writes the header.</summary>
    public static CaptureWriter Create(string path, CaptureHeader header)
    {
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
        try
        {
            return new CaptureWriter(file, header);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Request records written so far.</summary>
    public long RequestCount { get; private set; }

    /// <summary>Appends one request record.</summary>
    private readonly List<SyscallTotal> _syscallPool = new();
    private readonly List<PeerWaitTotal> _waitPool = new();
    private readonly List<OutgoingCall> _callPool = new();

    public void Write(in RequestView request)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) throw new InvalidOperationException("The capture is complete; no record may follow the trailer.");

        var length = request.Method.Length + request.Path.Length + request.Route.Length;
        if (_stringBytes.Length < length) _stringBytes = new byte[Math.Max(length, _stringBytes.Length * 2)];
        var memory = _stringBytes.AsMemory();
        request.Method.CopyTo(_stringBytes);
        request.Path.CopyTo(_stringBytes.AsSpan(request.Method.Length));
        request.Route.CopyTo(_stringBytes.AsSpan(request.Method.Length + request.Path.Length));

        _request.Pid = request.Pid;
        _request.Tid = request.Tid;
        _request.Goid = request.Goid;
        _request.StartNs = request.StartNs;
        _request.DurationNs = request.DurationNs;
        _request.Status = request.Status;
        if (request.IsGrpc) _request.GrpcStatus = request.GrpcStatus >= 0 ? request.GrpcStatus : -1;
        else _request.ClearGrpcStatus();
        // The wrappers alias _stringBytes: valid until the next Write, and the
        // record is serialized before that.
        _request.Method = UnsafeByteOperations.UnsafeWrap(memory[..request.Method.Length]);
        _request.Path = UnsafeByteOperations.UnsafeWrap(memory.Slice(request.Method.Length, request.Path.Length));
        _request.Route = UnsafeByteOperations.UnsafeWrap(memory.Slice(request.Method.Length + request.Path.Length, request.Route.Length));
        _request.BreakdownNs.Clear();
        foreach (var ns in request.BreakdownNs) _request.BreakdownNs.Add(ns);
        _request.Syscalls.Clear();
        for (int i = 0; i < request.Syscalls.Length; i++)
        {
            // Reuse the syscall messages from earlier records.
            if (_syscallPool.Count <= i) _syscallPool.Add(new SyscallTotal());
            var t = _syscallPool[i];
            t.Nr = request.Syscalls[i].Nr;
            t.Count = request.Syscalls[i].Count;
            t.Ns = request.Syscalls[i].Ns;
            _request.Syscalls.Add(t);
        }
        _request.Waits.Clear();
        for (int i = 0; i < request.Peers.Length; i++)
        {
            if (_waitPool.Count <= i) _waitPool.Add(new PeerWaitTotal());
            var w = _waitPool[i];
            ref readonly var p = ref request.Peers[i];
            w.Kind = p.Peer.Kind;
            w.Flags = p.Peer.Flags;
            w.Port = p.Peer.Port;
            w.Addr = ByteString.CopyFrom(p.Peer.Address);
            w.Count = p.Count;
            w.Ns = p.Ns;
            _request.Waits.Add(w);
        }
        _request.CallsTraced = request.CallsTraced;
        _request.Calls.Clear();
        for (int i = 0; i < request.Calls.Length; i++)
        {
            if (_callPool.Count <= i) _callPool.Add(new OutgoingCall());
            var o = _callPool[i];
            ref readonly var c = ref request.Calls[i];
            o.Method = ByteString.CopyFrom(c.Method);
            o.Host = ByteString.CopyFrom(c.Host);
            o.Path = ByteString.CopyFrom(c.Path);
            o.Status = c.Status;
            o.Flags = c.Flags;
            o.StartNs = c.StartNs;
            o.ConnNs = c.ConnNs;
            o.DurationNs = c.HeadNs;
            o.DnsNs = c.DnsNs;
            o.ConnectNs = c.ConnectNs;
            o.TlsNs = c.TlsNs;
            o.BodyNs = c.BodyNs;
            _request.Calls.Add(o);
        }
        WriteRecord(_requestRecord);
        RequestCount++;
    }

    /// <summary>Writes buffered records to the stream and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _coded.Flush();
        _output.Flush();
    }

    /// <summary>
    /// Ends the capture cleanly: writes the trailer (end time now, the request
    /// count, <paramref name="dropCount"/> failed ring-buffer reservations) and flushes.
    /// </summary>
    public void Complete(ulong dropCount) =>
        Complete(new CaptureTrailer
        {
            EndTimeUnixNs = CaptureHeader.UnixNs(DateTimeOffset.UtcNow),
            EndMonotonicNs = MonotonicClock.NowNs(),
            DropCount = dropCount,
            RequestCount = (ulong)RequestCount,
        });

    /// <summary>Ends the capture with the given trailer and flushes.</summary>
    public void Complete(CaptureTrailer trailer)
    {
        ArgumentNullException.ThrowIfNull(trailer);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) throw new InvalidOperationException("The capture is already complete.");
        WriteRecord(new CaptureRecord { Trailer = trailer });
        _completed = true;
        Flush();
    }

    /// <summary>Flushes what was written (no trailer unless <see cref="Complete(ulong)"/> was called) and closes the stream unless left open.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        try
        {
            _coded.Flush();
            _output.Flush();
        }
        finally
        {
            _disposed = true;
            _coded.Dispose();
            if (!_leaveOpen) _output.Dispose();
        }
    }

    private void WriteRecord(CaptureRecord record)
    {
        var size = record.CalculateSize();
        if (size > CaptureFormat.MaxRecordLength)
            throw new ArgumentException($"A {size}-byte record exceeds the {CaptureFormat.MaxRecordLength}-byte capture record limit.");
        _coded.WriteLength(size);
        record.WriteTo(_coded);
    }
}
