using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Runtime.InteropServices;

namespace Sonde.Tracing;

/// <summary>enum sonde_peer_kind of bpf/http.h: what a request's goroutine waited on in the netpoller.</summary>
public enum PeerKind : byte
{
    None = 0,
    IPv4 = 1,
    IPv6 = 2,
    Unix = 3,
    /// <summary>A connection the process accepted: the request's client, or another client.</summary>
    Client = 4,
}

/// <summary>
/// struct sonde_peer of bpf/http.h: the remote end of a socket, as the kernel
/// knew it when the request's goroutine parked on it. Layout checked against
/// the BPF object's BTF.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct Peer : IEquatable<Peer>
{
    public const int AddrMax = 40;
    public const byte FlagTruncated = 1, FlagUdp = 2;

    public byte Kind;
    public byte Flags;
    /// <summary>Host byte order.</summary>
    public ushort Port;
    public ushort AddrLen;
    public ushort Pad;
    public fixed byte Addr[AddrMax];

    /// <summary>A peer from its parts (a capture's record); an address longer than <see cref="AddrMax"/> is cut, and marked so.</summary>
    public static Peer From(PeerKind kind, byte flags, ushort port, ReadOnlySpan<byte> addr)
    {
        var p = new Peer { Kind = (byte)kind, Flags = flags, Port = port, AddrLen = (ushort)Math.Min(addr.Length, AddrMax) };
        if (addr.Length > AddrMax) p.Flags |= FlagTruncated;
        addr[..p.AddrLen].CopyTo(new Span<byte>(p.Addr, AddrMax));
        return p;
    }

    private static readonly int AddrOffset = (int)Marshal.OffsetOf<Peer>(nameof(Addr));

    /// <summary>The address's bytes (<see cref="AddrLen"/> of them), in place.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> Address => Bytes(this).Slice(AddrOffset, Math.Min((int)AddrLen, AddrMax));

    private static ReadOnlySpan<byte> Bytes(in Peer p) =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<Peer>(in p));

    /// <summary>Byte for byte, as BPF compares them (the kernel zeroes what a peer doesn't use).</summary>
    public readonly bool Equals(Peer other) => Bytes(this).SequenceEqual(Bytes(other));

    public override readonly bool Equals(object? obj) => obj is Peer p && Equals(p);

    public override readonly int GetHashCode()
    {
        var h = new HashCode();
        h.AddBytes(Bytes(this));
        return h.ToHashCode();
    }

    /// <summary>The longest name <see cref="FormatName"/> writes.</summary>
    public const int NameMax = 64;

    /// <summary>
    /// How Sonde names a peer (the JSON record's <c>waits</c> keys, the <c>peer</c>
    /// label): <c>10.0.0.5:5432</c>, <c>[::1]:6379</c>, <c>udp:127.0.0.53:53</c>
    /// (a datagram socket: a DNS lookup, usually), <c>unix:/run/x.sock</c>,
    /// <c>unix:@name</c> (abstract), <c>unix:</c> (unnamed), <c>client</c> (a
    /// connection the process accepted). A Unix path cut at
    /// <see cref="AddrMax"/> bytes ends in <c>…</c>. Two different peers never
    /// get the same name. Writes UTF-8 into <paramref name="utf8"/> (at least
    /// <see cref="NameMax"/> bytes) and returns its length; a Unix path's bytes
    /// are the traced process's, copied as they are: escape them for output.
    /// </summary>
    public readonly int FormatName(Span<byte> utf8)
    {
        int n = 0;
        void Put(ReadOnlySpan<byte> s, Span<byte> dst) { s.CopyTo(dst[n..]); n += s.Length; }
        var addr = Address;
        switch ((PeerKind)Kind)
        {
            case PeerKind.Client:
                Put("client"u8, utf8);
                return n;
            case PeerKind.IPv4 when addr.Length >= 4:
                if ((Flags & FlagUdp) != 0) Put("udp:"u8, utf8);
                for (int i = 0; i < 4; i++)
                {
                    if (i > 0) utf8[n++] = (byte)'.';
                    System.Buffers.Text.Utf8Formatter.TryFormat(addr[i], utf8[n..], out int w);
                    n += w;
                }
                break;
            case PeerKind.IPv6 when addr.Length >= 16:
                if ((Flags & FlagUdp) != 0) Put("udp:"u8, utf8);
                utf8[n++] = (byte)'[';
                new IPAddress(addr[..16]).TryFormat(utf8[n..], out int written);
                n += written;
                utf8[n++] = (byte)']';
                break;
            case PeerKind.Unix:
                Put(addr.IsEmpty || addr[0] != 0 ? "unix:"u8 : "unix:@"u8, utf8);
                Put(addr.IsEmpty || addr[0] != 0 ? addr : addr[1..], utf8);
                if ((Flags & FlagTruncated) != 0) Put("…"u8, utf8);
                return n;
            default:
                Put("unknown"u8, utf8);
                return n;
        }
        utf8[n++] = (byte)':';
        System.Buffers.Text.Utf8Formatter.TryFormat(Port, utf8[n..], out int p);
        return n + p;
    }

    /// <summary><see cref="FormatName"/> as a string, invalid UTF-8 and control characters replaced by U+FFFD.</summary>
    public readonly string Name()
    {
        Span<byte> utf8 = stackalloc byte[NameMax];
        return TracedBytes.Text(utf8[..FormatName(utf8)]);
    }
}

/// <summary>
/// struct sonde_peer_wait of bpf/http.h: a request's parks in the netpoller on
/// one peer, how many and how long. Their time is part of the request's net_io.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct PeerWait
{
    public Peer Peer;
    public uint Count;
    public uint Pad;
    public ulong Ns;
}
