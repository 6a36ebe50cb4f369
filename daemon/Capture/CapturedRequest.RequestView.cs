using Sonde.Tracing;

namespace Sonde.Capture;

public sealed partial class CapturedRequest
{
    private ulong[]? _breakdown;
    private SyscallStat[]? _syscalls;

    /// <summary>This record as the view aggregators and sinks consume; the spans point into this message.</summary>
    public RequestView AsView()
    {
        _breakdown ??= BreakdownNs.ToArray();
        _syscalls ??= Syscalls.Select(s => new SyscallStat(s.Nr, s.Count, s.Ns)).ToArray();
        return new(Pid, Tid, Goid, StartNs, DurationNs, Status, Method.Span, Path.Span, Route.Span, _breakdown, _syscalls,
            !HasGrpcStatus ? RequestView.NotGrpc : GrpcStatus >= 0 ? GrpcStatus : RequestView.GrpcStatusUnknown);
    }
}
