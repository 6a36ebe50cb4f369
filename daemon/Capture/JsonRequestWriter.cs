using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using Sonde.Tracing;

namespace Sonde.Capture;

/// <summary>
/// Writes <c>sonde trace --json</c>: one JSON object per completed request,
/// one per line, in the contract's field order:
/// <c>{"pid":1,"tid":2,"goid":3,"start_ns":4,"duration_ns":5,"method":"GET","path":"/users/42","route":"/users/:id","status":200}</c>
/// (<c>route</c> is null when unknown). A gRPC call adds <c>"grpc_status":5</c>
/// (null when it ended without a status); its method is POST, its path and route
/// the full method. Later versions add fields; none is renamed.
/// </summary>
/// <remarks>
/// <para>
/// The traced process's bytes are not trusted: the output is valid JSON
/// whatever they hold. Bytes that are not UTF-8 become U+FFFD (one per
/// maximal invalid sequence, as .NET's UTF-8 decoder does); quotes,
/// backslashes and control characters (C0, DEL and C1, which terminals act
/// on) are escaped, and so are U+2028/U+2029.
/// </para>
/// <para>
/// Lines are encoded by hand into a reused buffer, so <see cref="Write"/>
/// does not allocate. The buffer goes to the stream when it fills, when a
/// <see cref="Write"/> finds the oldest buffered line older than
/// <see cref="FlushInterval"/>, on <see cref="FlushIfDue"/> (call it when the
/// event stream goes idle), <see cref="Flush"/> and <see cref="Dispose"/>.
/// Not thread-safe.
/// </para>
/// </remarks>
public sealed class JsonRequestWriter : IDisposable
{
    /// <summary>Default longest time a written line waits in the buffer.</summary>
    public static readonly TimeSpan DefaultFlushInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Room for everything but the strings: field names, nine numbers, braces.</summary>
    private const int FixedPartMax = 256;
    // breakdown_ns: 10 names + 20-digit numbers; syscalls: 16 entries of name + two numbers;
    // waits: 8 entries of a peer's name (escaped) + two numbers; calls: 4 of their strings
    // (escaped), fourteen field names, eight numbers and three booleans.
    private const int BreakdownPartMax = 16 + BreakdownCategories.Count * 36 + 16 + 16 * 80
        + 16 + HttpEvent.MaxPeers * (Peer.NameMax * MaxBytesPerInputByte + 64)
        + 16 + HttpEvent.MaxCalls * ((HttpCall.MethodMax + HttpCall.HostMax + HttpCall.PathMax) * MaxBytesPerInputByte + 440);
    /// <summary>A string byte becomes at most 6 output bytes (<c>\u00XX</c>, or U+FFFD escaped).</summary>
    private const int MaxBytesPerInputByte = 6;

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly long _flushIntervalTicks;
    private byte[] _buffer;
    private int _length;
    private long _oldestLineTimestamp;
    private bool _disposed;

    public JsonRequestWriter(Stream output, bool leaveOpen = false, int bufferSize = 64 * 1024, TimeSpan? flushInterval = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, FixedPartMax);
        _output = output;
        _leaveOpen = leaveOpen;
        _buffer = new byte[bufferSize];
        FlushInterval = flushInterval ?? DefaultFlushInterval;
        _flushIntervalTicks = (long)(FlushInterval.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Longest time a written line waits in the buffer while writes keep coming.</summary>
    public TimeSpan FlushInterval { get; }

    /// <summary>Lines written (buffered or not).</summary>
    public long LinesWritten { get; private set; }

    /// <summary>Appends one request line. Allocation-free once the buffer is large enough.</summary>
    public void Write(in RequestView request)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var worstCase = FixedPartMax + BreakdownPartMax
            + MaxBytesPerInputByte * (request.Method.Length + request.Path.Length + request.Route.Length);
        if (_buffer.Length - _length < worstCase)
        {
            FlushBuffer();
            if (_buffer.Length < worstCase) _buffer = new byte[worstCase];
        }
        if (_length == 0) _oldestLineTimestamp = Stopwatch.GetTimestamp();

        var line = _buffer.AsSpan(_length);
        var n = 0;
        Append(line, ref n, "{\"pid\":"u8);
        AppendNumber(line, ref n, request.Pid);
        Append(line, ref n, ",\"tid\":"u8);
        AppendNumber(line, ref n, request.Tid);
        Append(line, ref n, ",\"goid\":"u8);
        AppendNumber(line, ref n, request.Goid);
        Append(line, ref n, ",\"start_ns\":"u8);
        AppendNumber(line, ref n, request.StartNs);
        Append(line, ref n, ",\"duration_ns\":"u8);
        AppendNumber(line, ref n, request.DurationNs);
        Append(line, ref n, ",\"method\":"u8);
        AppendString(line, ref n, request.Method);
        Append(line, ref n, ",\"path\":"u8);
        AppendString(line, ref n, request.Path);
        Append(line, ref n, ",\"route\":"u8);
        if (request.Route.IsEmpty) Append(line, ref n, "null"u8);
        else AppendString(line, ref n, request.Route);
        Append(line, ref n, ",\"status\":"u8);
        AppendNumber(line, ref n, request.Status);
        if (request.IsGrpc)
        {
            Append(line, ref n, ",\"grpc_status\":"u8);
            if (request.GrpcStatus >= 0) AppendNumber(line, ref n, request.GrpcStatus);
            else Append(line, ref n, "null"u8);
        }
        if (!request.BreakdownNs.IsEmpty) AppendBreakdown(line, ref n, request);
        Append(line, ref n, "}\n"u8);
        _length += n;
        LinesWritten++;

        FlushIfDue();
    }

    /// <summary>Flushes when the oldest buffered line has waited <see cref="FlushInterval"/>.</summary>
    public void FlushIfDue()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_length > 0 && Stopwatch.GetTimestamp() - _oldestLineTimestamp >= _flushIntervalTicks) Flush();
    }

    /// <summary>Writes the buffered lines to the stream and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        FlushBuffer();
        _output.Flush();
    }

    public void Dispose()
    {
        if (_disposed) return;
        try
        {
            Flush();
        }
        finally
        {
            _disposed = true;
            if (!_leaveOpen) _output.Dispose();
        }
    }

    private void FlushBuffer()
    {
        if (_length == 0) return;
        _output.Write(_buffer, 0, _length);
        _length = 0;
    }

    /// <summary>
    /// "breakdown_ns":{"on_cpu":…,…},"syscalls":{"read":{"count":3,"ns":5120},…},
    /// "waits":{"10.0.0.5:5432":{"count":3,"ns":41234567},…}
    /// </summary>
    private static void AppendBreakdown(Span<byte> line, ref int n, in RequestView request)
    {
        Append(line, ref n, ",\"breakdown_ns\":{"u8);
        var b = request.BreakdownNs;
        for (int i = 0; i < b.Length && i < BreakdownCategories.Count; i++)
        {
            if (i > 0) Append(line, ref n, ","u8);
            Append(line, ref n, "\""u8);
            Append(line, ref n, BreakdownCategories.Utf8Names[i]);
            Append(line, ref n, "\":"u8);
            AppendNumber(line, ref n, b[i]);
        }
        Append(line, ref n, "},\"syscalls\":{"u8);
        var sys = request.Syscalls;
        for (int i = 0; i < sys.Length; i++)
        {
            if (i > 0) Append(line, ref n, ","u8);
            Append(line, ref n, "\""u8);
            Append(line, ref n, SyscallNames.Utf8(sys[i].Nr));
            Append(line, ref n, "\":{\"count\":"u8);
            AppendNumber(line, ref n, (ulong)sys[i].Count);
            Append(line, ref n, ",\"ns\":"u8);
            AppendNumber(line, ref n, sys[i].Ns);
            Append(line, ref n, "}"u8);
        }
        Append(line, ref n, "},\"waits\":{"u8);
        var peers = request.Peers;
        Span<byte> name = stackalloc byte[Peer.NameMax];
        for (int i = 0; i < peers.Length; i++)
        {
            if (i > 0) Append(line, ref n, ","u8);
            AppendString(line, ref n, name[..peers[i].Peer.FormatName(name)]);
            Append(line, ref n, ":{\"count\":"u8);
            AppendNumber(line, ref n, (ulong)peers[i].Count);
            Append(line, ref n, ",\"ns\":"u8);
            AppendNumber(line, ref n, peers[i].Ns);
            Append(line, ref n, "}"u8);
        }
        Append(line, ref n, "}"u8);
        if (!request.CallsTraced) return;
        Append(line, ref n, ",\"calls\":["u8);
        var calls = request.Calls;
        for (int i = 0; i < calls.Length; i++)
        {
            ref readonly var c = ref calls[i];
            if (i > 0) Append(line, ref n, ","u8);
            Append(line, ref n, "{\"method\":"u8);
            AppendString(line, ref n, c.Method);
            Append(line, ref n, ",\"host\":"u8);
            AppendString(line, ref n, c.Host);
            Append(line, ref n, ",\"path\":"u8);
            AppendString(line, ref n, c.Path);
            Append(line, ref n, ",\"status\":"u8);
            if (c.Done && !c.Failed && c.Status != 0) AppendNumber(line, ref n, (ulong)c.Status);
            else Append(line, ref n, "null"u8);
            Append(line, ref n, ",\"error\":"u8);
            Append(line, ref n, c.Failed ? "true"u8 : "false"u8);
            Append(line, ref n, ",\"tls\":"u8);
            Append(line, ref n, c.Tls ? "true"u8 : "false"u8);
            Append(line, ref n, ",\"new_conn\":"u8);
            Append(line, ref n, c.NewConnection ? "true"u8 : "false"u8);
            Append(line, ref n, ",\"start_ns\":"u8);
            AppendNumber(line, ref n, c.StartNs);
            AppendOptional(line, ref n, ",\"duration_ns\":"u8, c.Done, c.HeadNs);
            AppendOptional(line, ref n, ",\"conn_ns\":"u8, c.HasConn, c.ConnNs);
            AppendOptional(line, ref n, ",\"response_ns\":"u8, c.Done && c.HasConn && !c.Failed, c.ResponseNs);
            AppendOptional(line, ref n, ",\"dns_ns\":"u8, c.HasDial, c.DnsNs);
            AppendOptional(line, ref n, ",\"connect_ns\":"u8, c.HasDial, c.ConnectNs);
            AppendOptional(line, ref n, ",\"tls_ns\":"u8, c.HasDial, c.TlsNs);
            AppendOptional(line, ref n, ",\"body_ns\":"u8, c.HasBody, c.BodyNs);
            Append(line, ref n, "}"u8);
        }
        Append(line, ref n, "]"u8);
    }

    private static void AppendOptional(Span<byte> line, ref int n, ReadOnlySpan<byte> name, bool known, ulong value)
    {
        Append(line, ref n, name);
        if (known) AppendNumber(line, ref n, value);
        else Append(line, ref n, "null"u8);
    }

    private static void Append(Span<byte> line, ref int n, ReadOnlySpan<byte> literal)
    {
        literal.CopyTo(line[n..]);
        n += literal.Length;
    }

    private static void AppendNumber(Span<byte> line, ref int n, long value)
    {
        Utf8Formatter.TryFormat(value, line[n..], out var written);
        n += written;
    }

    private static void AppendNumber(Span<byte> line, ref int n, ulong value)
    {
        Utf8Formatter.TryFormat(value, line[n..], out var written);
        n += written;
    }

    /// <summary>A JSON string of untrusted bytes: valid UTF-8 copied, the rest escaped or replaced.</summary>
    private static void AppendString(Span<byte> line, ref int n, ReadOnlySpan<byte> value)
    {
        line[n++] = (byte)'"';
        var i = 0;
        while (i < value.Length)
        {
            var b = value[i];
            if (b < 0x80)
            {
                switch (b)
                {
                    case (byte)'"': Append(line, ref n, "\\\""u8); break;
                    case (byte)'\\': Append(line, ref n, "\\\\"u8); break;
                    case (byte)'\n': Append(line, ref n, "\\n"u8); break;
                    case (byte)'\r': Append(line, ref n, "\\r"u8); break;
                    case (byte)'\t': Append(line, ref n, "\\t"u8); break;
                    case < 0x20 or 0x7F: AppendUnicodeEscape(line, ref n, b); break;
                    default: line[n++] = b; break;
                }
                i++;
                continue;
            }

            var status = Rune.DecodeFromUtf8(value[i..], out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
                AppendUnicodeEscape(line, ref n, 0xFFFD); // invalid or cut-off sequence
            else if (rune.Value is <= 0x9F or 0x2028 or 0x2029)
                AppendUnicodeEscape(line, ref n, rune.Value); // C1 controls and JS line separators
            else
            {
                value.Slice(i, consumed).CopyTo(line[n..]);
                n += consumed;
            }
            i += consumed;
        }
        line[n++] = (byte)'"';
    }

    private static void AppendUnicodeEscape(Span<byte> line, ref int n, int codeUnit)
    {
        ReadOnlySpan<byte> hex = "0123456789abcdef"u8;
        line[n++] = (byte)'\\';
        line[n++] = (byte)'u';
        line[n++] = hex[(codeUnit >> 12) & 0xF];
        line[n++] = hex[(codeUnit >> 8) & 0xF];
        line[n++] = hex[(codeUnit >> 4) & 0xF];
        line[n++] = hex[codeUnit & 0xF];
    }
}
