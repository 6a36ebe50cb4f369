using Sonde.Aggregation;
using Sonde.Capture;
using Sonde.Tracing;

namespace Sonde.Cli;

/// <summary>`sonde report FILE`: the trace summary, from a capture file.</summary>
internal static class ReportCommand
{
    public const string Help = """
        Usage: sonde report FILE [--format text|json] [--max-routes N]

        Prints the per-route summary of a capture written by `sonde trace --out`:
        the same table `sonde trace` prints when it ends, or, with --format json,
        the summary as one JSON document (latencies in nanoseconds).
        A capture cut short (the tracer was killed) is read up to its last
        complete record, and the report says so.

        """;

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, new HashSet<string> { "--help" });
        if (a.Help) { Console.Out.Write(Help); return 0; }
        string format = a.Value("--format") ?? "text";
        if (format is not ("text" or "json")) throw new UsageException($"--format must be text or json, not '{format}'");
        int maxRoutes = a.Int("--max-routes", 1, 100_000) ?? RouteTable.DefaultMaxRows;
        a.RejectUnknown();
        if (a.Positional.Count != 1) throw new UsageException("report needs exactly one capture FILE");
        string path = a.Positional[0];
        if (!File.Exists(path)) throw new TraceException($"no such file: {path}");

        TraceSummary summary;
        try { summary = TraceSummary.FromCapture(path, maxRoutes); }
        catch (CaptureFormatException e) { throw new TraceException($"{path}: {e.Message}"); }
        catch (IOException e) { throw new TraceException($"{path}: {e.Message}"); }
        if (format == "json")
        {
            using var stdout = Console.OpenStandardOutput();
            SummaryJsonRenderer.Render(summary, stdout);
        }
        else new SummaryTextRenderer().Render(summary, Console.Out);
        return 0;
    }
}
