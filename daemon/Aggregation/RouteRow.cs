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

    /// <summary>Requests answered with a 5xx status.</summary>
    public long Errors { get; private set; }

    /// <summary>Handler durations of this row's requests.</summary>
    public LatencyHistogram Latency { get; } = new();

    /// <summary>Where this row's time went (requests traced with the breakdown on).</summary>
    public TimeBreakdown Breakdown { get; } = new();

    /// <summary>"GET /users/:id", or just the route for the synthetic rows.</summary>
    public string DisplayName => Method.Length == 0 ? Route : $"{Method} {Route}";

    internal void Add(in Sonde.Tracing.RequestView r)
    {
        Count++;
        if (r.Status is >= 500 and <= 599) Errors++;
        Latency.Record(r.DurationNs);
        Breakdown.Add(r.BreakdownNs, r.Syscalls);
    }
}
