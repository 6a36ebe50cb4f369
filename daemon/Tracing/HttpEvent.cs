using System.Runtime.InteropServices;

namespace Sonde.Tracing;

/// <summary>
/// struct sonde_http_event of bpf/http.h, read in place from the ring buffer:
/// the start of every record. A record with <see cref="FlagBreakdown"/> goes on
/// with struct sonde_http_breakdown (<see cref="HttpBreakdownHead"/>, then its
/// syscalls, only those that occurred). Tests check both layouts against the
/// BTF of the compiled BPF object.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct HttpEvent
{
    public const int MethodMax = 16, PathMax = 128, RouteMax = 128;
    public const ushort FlagPathTruncated = 1, FlagRouteTruncated = 2, FlagStatusUnknown = 4, FlagEndAtRet = 8, FlagBreakdown = 16,
        FlagGrpc = 32, FlagGrpcStatus = 64, FlagCalls = 128;

    public ulong StartNs;
    public ulong DurationNs;
    public long Goid;
    public uint Pid;
    public uint Tid;
    public ushort Status;
    public ushort Flags;
    public ushort MethodLen;
    public ushort PathLen;
    public ushort RouteLen;
    public ushort Config;
    public ushort GrpcStatus;
    public ushort Pad;
    public fixed byte Method[MethodMax];
    public fixed byte Path[PathMax];
    public fixed byte Route[RouteMax];

    public const int MaxSyscalls = 16, MaxPeers = 8, MaxCalls = 4;

    /// <summary>
    /// A view of a record's payload: no copy, no allocation. Lengths from the
    /// kernel are clamped again here, so a bad record can't read past its bytes.
    /// </summary>
    public static RequestView View(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < sizeof(HttpEvent)) throw new InvalidDataException($"ring buffer record of {payload.Length} bytes, expected at least {sizeof(HttpEvent)}");
        ref readonly HttpEvent e = ref MemoryMarshal.AsRef<HttpEvent>(payload);
        int methodAt = (int)Marshal.OffsetOf<HttpEvent>(nameof(Method));
        var route = payload.Slice(methodAt + MethodMax + PathMax, Math.Min((int)e.RouteLen, RouteMax));
        // A ServeMux pattern names its method and host before the path ("GET example.com/x/{id}"):
        // the route is the path part; the method is a field of its own.
        if (!route.IsEmpty && route[0] != (byte)'/' && route.IndexOf((byte)'/') is > 0 and var slash)
            route = route[slash..];
        ReadOnlySpan<ulong> breakdown = default;
        ReadOnlySpan<SyscallStat> syscalls = default;
        ReadOnlySpan<PeerWait> peers = default;
        ReadOnlySpan<HttpCall> calls = default;
        if ((e.Flags & FlagBreakdown) != 0)
        {
            var tail = payload[sizeof(HttpEvent)..];
            if (tail.Length < sizeof(HttpBreakdownHead))
                throw new InvalidDataException($"ring buffer record of {payload.Length} bytes has no room for its breakdown");
            ref readonly HttpBreakdownHead b = ref MemoryMarshal.AsRef<HttpBreakdownHead>(tail);
            int n = Math.Min((int)Math.Min(b.SyscallCount, MaxSyscalls), (tail.Length - sizeof(HttpBreakdownHead)) / sizeof(SyscallStat));
            breakdown = MemoryMarshal.Cast<byte, ulong>(tail[..(BreakdownCategories.Count * 8)]);
            syscalls = MemoryMarshal.Cast<byte, SyscallStat>(tail.Slice(sizeof(HttpBreakdownHead), n * sizeof(SyscallStat)));
            // The peers come right after the syscalls that occurred.
            var rest = tail[(sizeof(HttpBreakdownHead) + n * sizeof(SyscallStat))..];
            int m = Math.Min((int)Math.Min(b.PeerCount, MaxPeers), rest.Length / sizeof(PeerWait));
            peers = MemoryMarshal.Cast<byte, PeerWait>(rest[..(m * sizeof(PeerWait))]);
            // And the calls right after the peers.
            rest = rest[(m * sizeof(PeerWait))..];
            int k = Math.Min((int)Math.Min(b.CallCount, MaxCalls), rest.Length / sizeof(HttpCall));
            calls = MemoryMarshal.Cast<byte, HttpCall>(rest[..(k * sizeof(HttpCall))]);
        }
        return new RequestView((int)e.Pid, (int)e.Tid, e.Goid, e.StartNs, e.DurationNs, e.Status,
            payload.Slice(methodAt, Math.Min((int)e.MethodLen, MethodMax)),
            payload.Slice(methodAt + MethodMax, Math.Min((int)e.PathLen, PathMax)),
            route, breakdown, syscalls,
            (e.Flags & FlagGrpc) == 0 ? RequestView.NotGrpc : (e.Flags & FlagGrpcStatus) != 0 ? e.GrpcStatus : RequestView.GrpcStatusUnknown,
            peers, calls, (e.Flags & FlagCalls) != 0);
    }
}

/// <summary>
/// The fixed start of struct sonde_http_breakdown (bpf/http.h): nanoseconds per
/// category, then how many syscall entries follow, how many peer waits after them,
/// and how many outgoing calls after those.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct HttpBreakdownHead
{
    public fixed ulong BreakdownNs[BreakdownCategories.Count];
    public uint SyscallCount;
    public uint PeerCount;
    public uint CallCount;
    public uint Pad;
}
