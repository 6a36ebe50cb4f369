using Sonde.Tracing;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sonde.Aggregation;

/// <summary>
/// Renders a <see cref="TraceSummary"/> as one JSON document
/// (<c>sonde report --format json</c>). Durations are integer nanoseconds
/// (<c>*_ns</c>); routes are ordered busiest first; histogram buckets are the
/// non-empty log2 buckets, each [<c>lower_ns</c>, <c>upper_ns</c>).
/// </summary>
/// <remarks>
/// Shape: <c>{"host", "start_time", "duration_ns", "total_requests",
/// "total_errors", "requests_per_second", "drops", "capture_truncated",
/// "max_rows", "targets": [{"pid", "exe", "go_version", "modules"}],
/// "routes": [row], "grpc": [row + {"status_codes": {"OK": n, ...}}] (its
/// "method" the full method, its "errors" server errors), "other": row + {"folded_keys", "folded_keys_is_lower_bound"},
/// "all": row}</c> where a row is <c>{"method", "route", "route_kind",
/// "count", "errors", "min_ns", "mean_ns", "p50_ns", "p90_ns", "p99_ns",
/// "max_ns", "histogram": [{"lower_ns", "upper_ns", "count"}]}</c>
/// (<c>method</c>/<c>route</c> only on route rows; <c>drops</c>, <c>host</c>
/// and <c>go_version</c> may be null). Later versions add fields, never rename.
/// </remarks>
public static class SummaryJsonRenderer
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        // Keep non-ASCII route text readable; quotes and controls are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Render(TraceSummary summary, Stream output)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(output);
        using var json = new Utf8JsonWriter(output, Options);
        json.WriteStartObject();
        if (summary.HostName is null) json.WriteNull("host");
        else json.WriteString("host", summary.HostName);
        json.WriteString("start_time", summary.StartTime);
        json.WriteNumber("duration_ns", summary.Duration.Ticks * 100);
        json.WriteNumber("total_requests", summary.TotalRequests);
        json.WriteNumber("total_errors", summary.TotalErrors);
        json.WriteNumber("requests_per_second", Math.Round(summary.RequestsPerSecond, 3));
        if (summary.Drops is { } drops) json.WriteNumber("drops", drops);
        else json.WriteNull("drops");
        json.WriteBoolean("capture_truncated", summary.CaptureTruncated);
        json.WriteNumber("max_rows", summary.Routes.MaxRows);

        json.WriteStartArray("targets");
        foreach (var target in summary.Targets)
        {
            json.WriteStartObject();
            json.WriteNumber("pid", target.Pid);
            json.WriteString("exe", target.ExePath);
            if (target.GoVersion is null) json.WriteNull("go_version");
            else json.WriteString("go_version", target.GoVersion);
            json.WriteStartObject("modules");
            foreach (var (module, version) in target.Modules.OrderBy(m => m.Key, StringComparer.Ordinal))
                json.WriteString(module, version);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("routes");
        var rows = summary.Routes.Rows
            .OrderByDescending(r => r.Count)
            .ThenBy(r => r.Route, StringComparer.Ordinal)
            .ThenBy(r => r.Method, StringComparer.Ordinal);
        foreach (var row in rows.Where(r => r.Kind != RouteKind.Rpc))
        {
            json.WriteStartObject();
            json.WriteString("method", row.Method);
            json.WriteString("route", row.Route);
            json.WriteString("route_kind", row.Kind == RouteKind.Template ? "template" : "path");
            WriteRowFields(json, row);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("grpc");
        foreach (var row in rows.Where(r => r.Kind == RouteKind.Rpc))
        {
            json.WriteStartObject();
            json.WriteString("method", row.Route);
            json.WriteStartObject("status_codes");
            foreach (var (code, count) in row.GrpcStatusCounts)
                json.WriteNumber(GrpcCodes.Name(code), count);
            json.WriteEndObject();
            WriteRowFields(json, row);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        var other = summary.Routes.Other;
        json.WriteStartObject("other");
        json.WriteNumber("folded_keys", summary.Routes.FoldedKeys);
        json.WriteBoolean("folded_keys_is_lower_bound", summary.Routes.FoldedKeysIsLowerBound);
        WriteRowFields(json, other);
        json.WriteEndObject();

        json.WriteStartObject("all");
        WriteRowFields(json, summary.Routes.All);
        json.WriteEndObject();

        json.WriteEndObject();
        json.Flush();
        output.Write("\n"u8);
    }

    public static string Render(TraceSummary summary)
    {
        var output = new MemoryStream();
        Render(summary, output);
        return System.Text.Encoding.UTF8.GetString(output.ToArray());
    }

    private static void WriteRowFields(Utf8JsonWriter json, RouteRow row)
    {
        var h = row.Latency;
        json.WriteNumber("count", row.Count);
        json.WriteNumber("errors", row.Errors);
        json.WriteNumber("min_ns", h.MinNs);
        json.WriteNumber("mean_ns", (ulong)Math.Round(h.MeanNs));
        json.WriteNumber("p50_ns", h.Percentile(50));
        json.WriteNumber("p90_ns", h.Percentile(90));
        json.WriteNumber("p99_ns", h.Percentile(99));
        json.WriteNumber("max_ns", h.MaxNs);
        json.WriteStartArray("histogram");
        foreach (var bucket in h.Log2Buckets())
        {
            if (bucket.Count == 0) continue;
            json.WriteStartObject();
            json.WriteNumber("lower_ns", bucket.LowerNs);
            json.WriteNumber("upper_ns", bucket.UpperNs);
            json.WriteNumber("count", bucket.Count);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        var b = row.Breakdown;
        if (b.Requests > 0)
        {
            json.WriteNumber("breakdown_requests", b.Requests);
            json.WriteStartObject("breakdown_mean_ns");
            for (int i = 0; i < BreakdownCategories.Count; i++)
                json.WriteNumber(BreakdownCategories.Names[i], (ulong)Math.Round(b.MeanNs(i)));
            json.WriteEndObject();
            WriteTotals(json, "syscalls", b.Syscalls());
            WriteTotals(json, "waits", b.Peers());
            WriteTotals(json, "calls", b.Hosts());
        }
    }

    /// <summary>"name": {"NAME": {"count", "ns", "requests"}, ...}: syscalls, the peers waited on, or the hosts called.</summary>
    private static void WriteTotals(Utf8JsonWriter json, string name, IEnumerable<(string Name, long Count, ulong Ns, long Requests)> totals)
    {
        json.WriteStartObject(name);
        foreach (var (key, count, ns, requests) in totals)
        {
            json.WriteStartObject(key);
            json.WriteNumber("count", count);
            json.WriteNumber("ns", ns);
            json.WriteNumber("requests", requests);
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }
}
