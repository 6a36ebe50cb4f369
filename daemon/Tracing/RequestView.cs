namespace Sonde.Tracing;

/// <summary>
/// One completed HTTP request or gRPC call, as a view over bytes that live elsewhere (the
/// ring-buffer record in place, or a capture record being read). Strings are
/// UTF-8 spans so that the hot path never allocates; <see cref="Route"/> is
/// empty when the route template is unknown (the JSON record then says null).
/// </summary>
public readonly ref struct RequestView
{
    public RequestView(int pid, int tid, long goid, ulong startNs, ulong durationNs, int status,
        ReadOnlySpan<byte> method, ReadOnlySpan<byte> path, ReadOnlySpan<byte> route,
        ReadOnlySpan<ulong> breakdownNs = default, ReadOnlySpan<SyscallStat> syscalls = default, int grpcStatus = NotGrpc,
        ReadOnlySpan<PeerWait> peers = default, ReadOnlySpan<HttpCall> calls = default, bool callsTraced = false)
    {
        Pid = pid; Tid = tid; Goid = goid; StartNs = startNs; DurationNs = durationNs; Status = status;
        Method = method; Path = path; Route = route; BreakdownNs = breakdownNs; Syscalls = syscalls;
        GrpcStatus = grpcStatus; Peers = peers; Calls = calls; CallsTraced = callsTraced || !calls.IsEmpty;
    }

    /// <summary><see cref="GrpcStatus"/> of a request that is not a gRPC call.</summary>
    public const int NotGrpc = -1;
    /// <summary><see cref="GrpcStatus"/> of a gRPC call whose status was not seen (it ended without sending one).</summary>
    public const int GrpcStatusUnknown = -2;

    /// <summary>A gRPC call's status code (0 OK, 5 NOT_FOUND, ...), or <see cref="NotGrpc"/>, or <see cref="GrpcStatusUnknown"/>.</summary>
    public int GrpcStatus { get; }

    /// <summary>Whether this is a gRPC call (grpc-go): Path and Route are its full method, Method is POST.</summary>
    public bool IsGrpc => GrpcStatus != NotGrpc;

    /// <summary>
    /// Nanoseconds per <see cref="BreakdownCategories"/> (they sum to the
    /// duration); empty when the breakdown is off.
    /// </summary>
    public ReadOnlySpan<ulong> BreakdownNs { get; }

    /// <summary>Syscalls made while running this request's goroutine; empty when the breakdown is off.</summary>
    public ReadOnlySpan<SyscallStat> Syscalls { get; }

    /// <summary>
    /// The request's parks in the netpoller, by the peer of the socket it waited
    /// on (part of its net_io); empty when the breakdown is off.
    /// </summary>
    public ReadOnlySpan<PeerWait> Peers { get; }

    /// <summary>
    /// The outgoing HTTP calls net/http's client made on the request's goroutine,
    /// in the order they started (at most <see cref="HttpEvent.MaxCalls"/>); empty
    /// unless <see cref="CallsTraced"/>.
    /// </summary>
    public ReadOnlySpan<HttpCall> Calls { get; }

    /// <summary>Whether the outgoing calls were traced (<c>--calls on</c>): an empty <see cref="Calls"/> then means none.</summary>
    public bool CallsTraced { get; }

    public int Pid { get; }
    /// <summary>Thread that entered the handler.</summary>
    public int Tid { get; }
    public long Goid { get; }
    /// <summary>CLOCK_MONOTONIC nanoseconds at handler entry.</summary>
    public ulong StartNs { get; }
    public ulong DurationNs { get; }
    /// <summary>HTTP status; 0 when it could not be read.</summary>
    public int Status { get; }
    public ReadOnlySpan<byte> Method { get; }
    /// <summary>Raw URL path, without the query.</summary>
    public ReadOnlySpan<byte> Path { get; }
    /// <summary>Route template (e.g. <c>/users/:id</c>); empty when unknown.</summary>
    public ReadOnlySpan<byte> Route { get; }
}
