using Sonde.Capture;

namespace Sonde.Aggregation;

/// <summary>
/// What <c>sonde trace</c> prints when it ends and <c>sonde report</c> prints
/// from a capture: the per-route table plus totals, capture time, drops and
/// targets. The tracer builds one around the <see cref="RouteTable"/> it fed
/// live; <see cref="FromCapture(string, int)"/> rebuilds the same from a file.
/// </summary>
public sealed class TraceSummary
{
    public TraceSummary(RouteTable routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        Routes = routes;
    }

    public RouteTable Routes { get; }

    /// <summary>The processes traced.</summary>
    public IReadOnlyList<TargetInfo> Targets { get; init; } = [];

    /// <summary>Wall-clock start of the capture.</summary>
    public DateTimeOffset StartTime { get; init; }

    /// <summary>How long the capture ran.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>
    /// Requests lost in the kernel (failed ring-buffer reservations, counted in
    /// BPF); null when unknown, as for a truncated capture.
    /// </summary>
    public long? Drops { get; init; }

    /// <summary>Host the capture ran on; null when not recorded.</summary>
    public string? HostName { get; init; }

    /// <summary>True when built from a capture file that was cut short.</summary>
    public bool CaptureTruncated { get; init; }

    public long TotalRequests => Routes.All.Count;

    public long TotalErrors => Routes.All.Errors;

    /// <summary>Whether any gRPC calls were traced (they have a section of their own).</summary>
    public bool HasGrpc => Routes.Rows.Any(r => r.Kind == RouteKind.Rpc);

    /// <summary>Requests per second over <see cref="Duration"/>; 0 for an empty duration.</summary>
    public double RequestsPerSecond => Duration > TimeSpan.Zero ? TotalRequests / Duration.TotalSeconds : 0;

    /// <summary>Reads the capture at <paramref name="path"/> into a summary.</summary>
    /// <exception cref="CaptureFormatException">The file is not a readable capture.</exception>
    public static TraceSummary FromCapture(string path, int maxRows = RouteTable.DefaultMaxRows)
    {
        using var reader = CaptureReader.Open(path);
        return FromCapture(reader, maxRows);
    }

    /// <summary>
    /// Reads the remaining records of <paramref name="reader"/> into a summary.
    /// A truncated capture's duration runs to the end of its last complete
    /// request, and its drop count is unknown.
    /// </summary>
    public static TraceSummary FromCapture(CaptureReader reader, int maxRows = RouteTable.DefaultMaxRows)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var routes = new RouteTable(maxRows);
        var header = reader.Header;
        var lastEndNs = header.StartMonotonicNs;
        while (reader.TryReadRequest(out var request))
        {
            routes.Add(request.AsView());
            var endNs = request.StartNs + request.DurationNs;
            if (endNs > lastEndNs) lastEndNs = endNs;
        }

        var trailer = reader.Trailer;
        var endMonotonicNs = trailer?.EndMonotonicNs ?? lastEndNs;
        var durationNs = endMonotonicNs > header.StartMonotonicNs ? endMonotonicNs - header.StartMonotonicNs : 0;
        return new TraceSummary(routes)
        {
            Targets = header.Targets.Select(t => t.ToTargetInfo()).ToArray(),
            StartTime = header.StartTime,
            Duration = TimeSpan.FromTicks((long)(durationNs / 100)),
            Drops = trailer is null ? null : (long)trailer.DropCount,
            HostName = header.HostName.Length == 0 ? null : header.HostName,
            CaptureTruncated = reader.IsTruncated,
        };
    }
}
