using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Sonde.Tracing;

/// <summary>
/// struct sonde_call of bpf/http.h: one outgoing HTTP call that net/http's
/// client made on a request's goroutine, from its round trip's start to its
/// response's head. Layout checked against the BPF object's BTF.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct HttpCall
{
    public const int MethodMax = 16, HostMax = 64, PathMax = 64;
    public const ushort FlagTls = 1, FlagNewConn = 2, FlagConn = 4, FlagDone = 8, FlagError = 16,
        FlagHostTruncated = 32, FlagPathTruncated = 64, FlagDial = 128, FlagBody = 256;

    /// <summary>CLOCK_MONOTONIC ns at the round trip's start.</summary>
    public ulong StartNs;
    /// <summary>From the start until it had a connection (with <see cref="FlagConn"/>).</summary>
    public ulong ConnNs;
    /// <summary>From the start until the round trip returned: the response's head read (with <see cref="FlagDone"/>).</summary>
    public ulong HeadNs;
    /// <summary>The dial made for it (with <see cref="FlagDial"/>), on the dial's goroutine: resolving the host,</summary>
    public ulong DnsNs;
    /// <summary>connecting,</summary>
    public ulong ConnectNs;
    /// <summary>and the TLS handshake (0 for http).</summary>
    public ulong TlsNs;
    /// <summary>From the start until the caller closed the response's body (with <see cref="FlagBody"/>).</summary>
    public ulong BodyNs;
    /// <summary>The response body's pointer in the traced process, by which its Close is known (not output).</summary>
    public ulong Body;
    /// <summary>The same where go1.27's HTTP/2 client keeps it (not output).</summary>
    public ulong BodyAlt;
    /// <summary>The response's status code; 0 when unknown.</summary>
    public ushort Status;
    public ushort Flags;
    public byte MethodLen;
    public byte HostLen;
    public byte PathLen;
    public byte Pad;
    public fixed byte MethodBytes[MethodMax];
    public fixed byte HostBytes[HostMax];
    public fixed byte PathBytes[PathMax];

    /// <summary>A call from its parts (a capture's record); strings longer than their room are cut, and marked so.</summary>
    public static HttpCall From(ReadOnlySpan<byte> method, ReadOnlySpan<byte> host, ReadOnlySpan<byte> path, ushort status, ushort flags,
        ulong startNs, ulong connNs, ulong headNs)
    {
        var c = new HttpCall
        {
            StartNs = startNs, ConnNs = connNs, HeadNs = headNs, Status = status,
            MethodLen = (byte)Math.Min(method.Length, MethodMax), HostLen = (byte)Math.Min(host.Length, HostMax),
            PathLen = (byte)Math.Min(path.Length, PathMax),
        };
        c.Flags = (ushort)(flags | (host.Length > HostMax ? FlagHostTruncated : 0) | (path.Length > PathMax ? FlagPathTruncated : 0));
        method[..c.MethodLen].CopyTo(new Span<byte>(c.MethodBytes, MethodMax));
        host[..c.HostLen].CopyTo(new Span<byte>(c.HostBytes, HostMax));
        path[..c.PathLen].CopyTo(new Span<byte>(c.PathBytes, PathMax));
        return c;
    }

    private static readonly int MethodAt = (int)Marshal.OffsetOf<HttpCall>(nameof(MethodBytes)),
        HostAt = (int)Marshal.OffsetOf<HttpCall>(nameof(HostBytes)), PathAt = (int)Marshal.OffsetOf<HttpCall>(nameof(PathBytes));

    private static ReadOnlySpan<byte> Bytes(in HttpCall c) => MemoryMarshal.AsBytes(new ReadOnlySpan<HttpCall>(in c));

    /// <summary>The request method's bytes, in place (the traced process's: escape them for output).</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> Method => Bytes(this).Slice(MethodAt, Math.Min((int)MethodLen, MethodMax));

    /// <summary>The URL's host ("api.example.com", "10.0.0.5:8080"), in place.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> Host => Bytes(this).Slice(HostAt, Math.Min((int)HostLen, HostMax));

    /// <summary>The URL's path, without the query, in place.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> Path => Bytes(this).Slice(PathAt, Math.Min((int)PathLen, PathMax));

    /// <summary>Whether the round trip returned before the request ended.</summary>
    public readonly bool Done => (Flags & FlagDone) != 0;

    /// <summary>Whether it returned an error instead of a response.</summary>
    public readonly bool Failed => (Flags & FlagError) != 0;

    /// <summary>Whether the URL was https.</summary>
    public readonly bool Tls => (Flags & FlagTls) != 0;

    /// <summary>Whether no idle connection was there and one was dialed for it.</summary>
    public readonly bool NewConnection => (Flags & FlagNewConn) != 0;

    /// <summary>Whether the dial made for it was timed: <see cref="DnsNs"/>, <see cref="ConnectNs"/>, <see cref="TlsNs"/>.</summary>
    public readonly bool HasDial => (Flags & FlagDial) != 0;

    /// <summary>Whether <see cref="BodyNs"/> is known.</summary>
    public readonly bool HasBody => (Flags & FlagBody) != 0;

    /// <summary>Whether <see cref="ConnNs"/> is known.</summary>
    public readonly bool HasConn => (Flags & FlagConn) != 0;

    /// <summary>From having its connection to the response's head: writing the request, the peer's work, the head's way back.</summary>
    public readonly ulong ResponseNs => Done && HasConn && HeadNs >= ConnNs ? HeadNs - ConnNs : 0;
}
