using Sonde.Tracing;

namespace Sonde.Capture;

public sealed partial class CapturedRequest
{
    private ulong[]? _breakdown;
    private SyscallStat[]? _syscalls;
    private PeerWait[]? _waits;
    private HttpCall[]? _calls;

    /// <summary>This record as the view aggregators and sinks consume; the spans point into this message.</summary>
    public RequestView AsView()
    {
        _breakdown ??= BreakdownNs.ToArray();
        _syscalls ??= Syscalls.Select(s => new SyscallStat(s.Nr, s.Count, s.Ns)).ToArray();
        _waits ??= Waits.Take(HttpEvent.MaxPeers).Select(w => new PeerWait
        {
            Peer = Peer.From((PeerKind)Math.Min(w.Kind, 255), (byte)w.Flags, (ushort)w.Port, w.Addr.Span),
            Count = w.Count,
            Ns = w.Ns,
        }).ToArray();
        _calls ??= Calls.Take(HttpEvent.MaxCalls).Select(c => HttpCall.From(c.Method.Span, c.Host.Span, c.Path.Span,
            (ushort)Math.Min(c.Status, 999), (ushort)(c.Flags & 0x1ff), c.StartNs, c.ConnNs, c.DurationNs) with
            { DnsNs = c.DnsNs, ConnectNs = c.ConnectNs, TlsNs = c.TlsNs, BodyNs = c.BodyNs }).ToArray();
        return new(Pid, Tid, Goid, StartNs, DurationNs, Status, Method.Span, Path.Span, Route.Span, _breakdown, _syscalls,
            !HasGrpcStatus ? RequestView.NotGrpc : GrpcStatus >= 0 ? GrpcStatus : RequestView.GrpcStatusUnknown, _waits, _calls, CallsTraced);
    }
}
