namespace Sonde.Aggregation;

/// <summary>
/// The requests of one route of a <see cref="RouteTable"/>: one method and
/// route template (or raw path when the template is unknown), or one of the
/// table's two synthetic rows, <c>other</c> (everything folded past the row
/// cap) and <c>all</c>.
/// </summary>
public sealed class RouteRow
{
    internal RouteRow(string method, string route, RouteKind kind)
    {
        Method = method;
        Route = route;
        Kind = kind;
    }

    /// <summary>HTTP method as sent (decoded from UTF-8); empty for the synthetic rows.</summary>
    public string Method { get; }

    /// <summary>
    /// The route template when <see cref="Kind"/> is <see cref="RouteKind.Template"/>,
    /// the raw URL path when it is <see cref="RouteKind.Path"/>, "other" or "all"
    /// for the synthetic rows. Bytes that were not valid UTF-8 read as U+FFFD.
    /// </summary>
    public string Route { get; }

    public RouteKind Kind { get; }

    /// <summary>Requests counted in this row.</summary>
    public long Count { get; private set; }

    /// <summary>Requests answered with a 5xx status, or gRPC calls with a server error (<see cref="GrpcCodes.IsServerError"/>).</summary>
    public long Errors { get; private set; }

    /// <summary>gRPC calls by status code (-1: ended without one); empty for HTTP rows.</summary>
    public IReadOnlyDictionary<int, long> GrpcStatusCounts => _grpcCodes;
    private readonly SortedDictionary<int, long> _grpcCodes = [];

    /// <summary>Handler durations of this row's requests.</summary>
    public LatencyHistogram Latency { get; } = new();

    /// <summary>Where this row's time went (requests traced with the breakdown on).</summary>
    public TimeBreakdown Breakdown { get; } = new();

    /// <summary>"GET /users/:id", the full method of a gRPC row, or just the route for the synthetic rows.</summary>
    public string DisplayName => Method.Length == 0 || Kind == RouteKind.Rpc ? Route : $"{Method} {Route}";

    internal void Add(in Sonde.Tracing.RequestView r)
    {
        Count++;
        if (r.IsGrpc)
        {
            int code = r.GrpcStatus >= 0 ? r.GrpcStatus : -1;
            if (GrpcCodes.IsServerError(code)) Errors++;
            _grpcCodes[code] = _grpcCodes.GetValueOrDefault(code) + 1;
        }
        else if (r.Status is >= 500 and <= 599) Errors++;
        Latency.Record(r.DurationNs);
        Breakdown.Add(r.BreakdownNs, r.Syscalls, r.Peers, r.Calls);
    }
}
