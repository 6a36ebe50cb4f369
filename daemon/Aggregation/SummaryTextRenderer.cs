using Sonde.Tracing;
using System.Globalization;
using System.Text;

namespace Sonde.Aggregation;

/// <summary>
/// Renders a <see cref="TraceSummary"/> for a terminal: a header (requests,
/// rate, errors, drops, capture time, targets), one table line per route with
/// count, 5xx errors and p50/p90/p99/max, then log2 latency histograms drawn
/// as bars the way bpftrace's <c>hist</c> draws them, for the busiest routes.
/// </summary>
/// <remarks>
/// Every line fits <see cref="Width"/> columns (long routes are cut with
/// "..."). Routes are the traced program's bytes: control characters in them
/// are printed escaped, never raw.
/// </remarks>
public sealed class SummaryTextRenderer
{
    /// <summary>bpftrace's bar width; narrower when <see cref="Width"/> demands.</summary>
    private const int MaxBarWidth = 52;
    private const int CountColumn = 10;
    private const int ErrorColumn = 7;
    private const int LatencyColumn = 8;
    private const int MaxTargetLines = 8;

    /// <summary>Columns every line fits in (at least 80, which leaves routes 26).</summary>
    public int Width
    {
        get;
        init => field = value >= 80 ? value : throw new ArgumentOutOfRangeException(nameof(Width), value, "at least 80");
    } = 100;

    /// <summary>Histograms are drawn for this many routes, busiest first (plus <c>other</c> when it is busier).</summary>
    public int MaxHistograms { get; init; } = 10;

    public string Render(TraceSummary summary)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        Render(summary, output);
        return output.ToString();
    }

    public void Render(TraceSummary summary, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(output);
        WriteHeader(summary, output);
        output.WriteLine();
        var rows = OrderedRows(summary.Routes);
        if (summary.TotalRequests == 0)
        {
            output.WriteLine("No requests were traced.");
            return;
        }
        var http = rows.Where(r => r.Kind != RouteKind.Rpc).ToList();
        if (http.Count > 0) WriteTable(summary.Routes, http, output);
        var rpc = rows.Where(r => r.Kind == RouteKind.Rpc).ToList();
        if (rpc.Count > 0)
        {
            if (http.Count > 0) output.WriteLine();
            WriteGrpc(rpc, output);
        }
        foreach (var row in rows.Take(MaxHistograms))
        {
            output.WriteLine();
            WriteHistogram(summary.Routes, row, output);
        }
        if (rows.Count > MaxHistograms)
        {
            output.WriteLine();
            output.WriteLine($"({rows.Count - MaxHistograms} more routes without histograms; `--format json` has them all)");
        }
    }

    /// <summary>Route rows busiest first, then <c>other</c> when it has requests.</summary>
    private static List<RouteRow> OrderedRows(RouteTable routes)
    {
        var rows = routes.Rows
            .OrderByDescending(r => r.Count)
            .ThenBy(r => r.Route, StringComparer.Ordinal)
            .ThenBy(r => r.Method, StringComparer.Ordinal)
            .ToList();
        if (routes.Other.Count > 0) rows.Add(routes.Other);
        return rows;
    }

    private void WriteHeader(TraceSummary summary, TextWriter output)
    {
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture,
            $"{summary.TotalRequests} requests in {DurationText.Format(summary.Duration.Ticks * 100.0)}");
        line.Append(CultureInfo.InvariantCulture, $" ({summary.RequestsPerSecond:0.0}/s), ");
        line.Append(CultureInfo.InvariantCulture, $"{summary.TotalErrors} errors ({(summary.HasGrpc ? "5xx, gRPC server errors" : "5xx")}), ");
        line.Append(summary.Drops is { } drops ? $"{drops} drops" : "drops unknown");
        output.WriteLine("Sonde trace summary");
        output.WriteLine(Fit("  requests  " + line));

        var started = summary.StartTime == default
            ? "unknown"
            : summary.StartTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        output.WriteLine(Fit(summary.HostName is null
            ? $"  started   {started}"
            : $"  started   {started} on {TerminalText.Clean(summary.HostName)}"));
        if (summary.CaptureTruncated)
            output.WriteLine(Fit("  capture   truncated: no trailer, so the duration ends at the last complete request"));

        foreach (var target in summary.Targets.Take(MaxTargetLines))
        {
            var go = target.GoVersion is null ? "Go version unknown" : target.GoVersion;
            output.WriteLine(Fit($"  target    pid {target.Pid}  {TerminalText.Clean(target.ExePath)}  {TerminalText.Clean(go)}"));
        }
        if (summary.Targets.Count > MaxTargetLines)
            output.WriteLine($"  target    ... and {summary.Targets.Count - MaxTargetLines} more");
        if (summary.Targets.Count == 0)
            output.WriteLine("  target    none recorded");
    }

    private int RouteColumn => Width - 1 - CountColumn - 1 - ErrorColumn - 4 * (1 + LatencyColumn);

    private void WriteTable(RouteTable routes, List<RouteRow> rows, TextWriter output)
    {
        output.WriteLine(TableLine("ROUTE", "COUNT", "5XX", "P50", "P90", "P99", "MAX"));
        foreach (var row in rows) output.WriteLine(TableLine(RowLabel(routes, row), row));
        output.WriteLine(TableLine("all", routes.All));
    }

    /// <summary>The gRPC section: one line per method (errors are server errors), then its status codes.</summary>
    private void WriteGrpc(List<RouteRow> rows, TextWriter output)
    {
        output.WriteLine("gRPC (grpc-go)");
        output.WriteLine(TableLine("METHOD", "CALLS", "ERRORS", "P50", "P90", "P99", "MAX"));
        foreach (var row in rows)
        {
            output.WriteLine(TableLine(row.Route, row));
            output.WriteLine(Fit("  status  " + string.Join(", ", row.GrpcStatusCounts.Select(c => $"{GrpcCodes.Name(c.Key)} {Number(c.Value)}"))));
        }
    }

    private string TableLine(string label, RouteRow row)
    {
        var h = row.Latency;
        return TableLine(label, Number(row.Count), Number(row.Errors),
            DurationText.Format(h.Percentile(50)), DurationText.Format(h.Percentile(90)),
            DurationText.Format(h.Percentile(99)), DurationText.Format(h.MaxNs));
    }

    private string TableLine(string label, string count, string errors, string p50, string p90, string p99, string max) =>
        string.Concat(
            TerminalText.Clean(label, RouteColumn).PadRight(RouteColumn),
            " ", count.PadLeft(CountColumn),
            " ", errors.PadLeft(ErrorColumn),
            " ", p50.PadLeft(LatencyColumn),
            " ", p90.PadLeft(LatencyColumn),
            " ", p99.PadLeft(LatencyColumn),
            " ", max.PadLeft(LatencyColumn));

    private static string RowLabel(RouteTable routes, RouteRow row) => row.Kind switch
    {
        RouteKind.Other => routes.FoldedKeysIsLowerBound
            ? $"other (>={routes.FoldedKeys} routes past the {routes.MaxRows}-row cap)"
            : $"other ({routes.FoldedKeys} routes past the {routes.MaxRows}-row cap)",
        _ => row.DisplayName,
    };

    private void WriteHistogram(RouteTable routes, RouteRow row, TextWriter output)
    {
        var title = row.Kind == RouteKind.Rpc
            ? $"{RowLabel(routes, row)}  {row.Count} calls, {row.Errors} server errors, mean {DurationText.Format(row.Latency.MeanNs)}"
            : $"{RowLabel(routes, row)}  {row.Count} requests, {row.Errors} errors (5xx), mean {DurationText.Format(row.Latency.MeanNs)}";
        output.WriteLine(TerminalText.Clean(title, Width));

        var buckets = row.Latency.Log2Buckets();
        var labels = buckets.Select(b => b.LowerNs == 0
            ? "[0, 1ns)"
            : $"[{DurationText.Format(b.LowerNs)}, {DurationText.Format(b.UpperNs)})").ToArray();
        var labelWidth = labels.Max(l => l.Length);
        var countWidth = buckets.Max(b => Number(b.Count).Length);
        // "  label count |bar|"
        var barWidth = Math.Min(MaxBarWidth, Width - (2 + labelWidth + 1 + countWidth + 1 + 2));
        var peak = buckets.Max(b => b.Count);
        for (var i = 0; i < buckets.Count; i++)
        {
            var bar = (int)(buckets[i].Count * barWidth / peak);
            output.WriteLine(string.Concat(
                "  ", labels[i].PadRight(labelWidth),
                " ", Number(buckets[i].Count).PadLeft(countWidth),
                " |", new string('@', bar), new string(' ', barWidth - bar), "|"));
        }
        WriteBreakdown(row.Breakdown, output);
    }

    /// <summary>One letter per category in the stacked bar.</summary>
    private const string BarLetters = "CRNSLHZGOV";

    /// <summary>
    /// The mean breakdown as a stacked bar (one letter per category, legend
    /// after it) and the syscalls that took the most time.
    /// </summary>
    private void WriteBreakdown(TimeBreakdown b, TextWriter output)
    {
        if (b.Requests == 0) return;
        double total = 0;
        for (int i = 0; i < BreakdownCategories.Count; i++) total += b.MeanNs(i);
        if (total <= 0) return;
        int width = Math.Min(MaxBarWidth, Width - 6);
        var bar = new System.Text.StringBuilder(width);
        double acc = 0;
        for (int i = 0; i < BreakdownCategories.Count; i++)
        {
            acc += b.MeanNs(i);
            int upTo = (int)Math.Round(acc / total * width);
            bar.Append(BarLetters[i], Math.Max(0, upTo - bar.Length));
        }
        output.WriteLine($"  where the time went (mean per request):");
        output.WriteLine($"  [{bar}]");
        var parts = Enumerable.Range(0, BreakdownCategories.Count).Where(i => b.MeanNs(i) / total >= 0.001)
            .OrderByDescending(b.MeanNs)
            .Select(i => $"{BarLetters[i]} {BreakdownCategories.Names[i]} {100 * b.MeanNs(i) / total:0.0}% ({DurationText.Format(b.MeanNs(i))})");
        output.WriteLine(Fit("  " + string.Join("  ", parts)));
        var top = b.Syscalls().Take(5).ToList();
        if (top.Count > 0)
            output.WriteLine(Fit("  top syscalls per request: " + string.Join(", ", top.Select(s => SyscallText(s, b.Requests)))));
        var peers = b.Peers().Take(5).ToList();
        if (peers.Count > 0)
            output.WriteLine(Fit("  waited on, per request: " + string.Join(", ", peers.Select(s => SyscallText(s, b.Requests)))));
        var hosts = b.Hosts().Take(5).ToList();
        if (hosts.Count > 0)
            output.WriteLine(Fit("  called, per request: " + string.Join(", ", hosts.Select(s => SyscallText(s, b.Requests)))));
    }

    /// <summary>
    /// "write 16x 3.59ms" when every request made the call; otherwise how many did and
    /// how often each of those did: "mmap 1x in 3% 2.10us" (time is still per request
    /// of the route, so the parts add up), never a mean that rounds to "0x".
    /// </summary>
    internal static string SyscallText((string Name, long Count, ulong Ns, long Requests) s, long requests)
    {
        string time = DurationText.Format((double)s.Ns / requests);
        double each = (double)s.Count / Math.Max(1, s.Requests);
        var c = CultureInfo.InvariantCulture;
        if (s.Requests >= requests) return string.Create(c, $"{s.Name} {each:0.#}x {time}");
        double share = 100.0 * s.Requests / requests;
        string pct = share >= 1 ? string.Create(c, $"{share:0}%") : share >= 0.1 ? string.Create(c, $"{share:0.0}%") : "<0.1%";
        return string.Create(c, $"{s.Name} {each:0.#}x in {pct} {time}");
    }

    private string Fit(string line) => line.Length <= Width ? line : line[..(Width - 3)] + "...";

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
