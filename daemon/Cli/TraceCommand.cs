using System.Runtime.InteropServices;
using Sonde.Aggregation;
using Sonde.Capture;
using Sonde.Discovery;
using Sonde.GoBinary;
using Sonde.Interop.LibC;
using Sonde.Tracing;

namespace Sonde.Cli;

/// <summary>`sonde trace`: a one-shot capture of every request of Go HTTP services.</summary>
internal static class TraceCommand
{
    public const string Help = """
        Usage: sonde trace (--pid PID ... | --exe PATH) [options]

        Captures every HTTP request served by Go programs (net/http; routes from
        ServeMux patterns, Gin, echo, chi and gorilla/mux) until
        --duration ends or SIGINT/SIGTERM arrives, then detaches and prints a
        per-route summary: count, 5xx errors, p50/p90/p99/max latency and a
        log2 latency histogram.

        Targets:
          --pid PID          trace this process (repeatable)
          --exe PATH         trace every process running this executable,
                             including ones that start during the capture

        Output:
          --duration D       stop after D (30s, 500ms, 2m); default: until Ctrl-C
          --json FILE|-      write one JSON object per request as it completes:
                             {"pid","tid","goid","start_ns","duration_ns",
                              "method","path","route","status"}
                             start_ns is CLOCK_MONOTONIC; route is null when unknown.
                             With -, the summary goes to stderr.
          --out FILE         write a binary capture (protobuf, see
                             daemon/Capture/capture.proto); read it with `sonde report`
          --max-routes N     summary rows before the rest fold into "other" (default 200)
          --no-summary       don't print the summary

        Breakdown:
          --breakdown on|off where each request's time went (default on): JSON
                             records gain "breakdown_ns" (on_cpu, runnable, net_io,
                             syscall, lock, chan, sleep, gc, other, stolen; they
                             sum to duration_ns), "syscalls" ({"name":{"count","ns"}})
                             and "waits": net_io by the peer of the socket waited on
                             ({"10.0.0.5:5432":{"count","ns"}}, "unix:/run/x.sock",
                             "udp:127.0.0.53:53", "client"); the summary gains a
                             mean breakdown and the top peers per route. Off:
                             fewer probes, lowest overhead. Measured on a
                             service doing ~200 us of work and a Redis
                             query per request: off costs it 2-7% of its
                             throughput, on 6-8% (README, "Measured").
          --calls on|off     with the breakdown, each request's outgoing HTTP
                             calls (net/http's client, on the request's
                             goroutine or, from Go 1.21, ones it started;
                             default off: 4 more probe hits per
                             call, 10 on a new https connection): records gain
                             "calls" ([{"method","host",
                             "path","status","error","tls","new_conn",
                             "start_ns","duration_ns" (to the response's head),
                             "conn_ns" (getting a connection),"response_ns"
                             (the rest), for a new connection "dns_ns",
                             "connect_ns","tls_ns", and "body_ns" (to the
                             body's Close)}], 4 at most) and the
                             summary the hosts called per route

        Probes:
          --end-probe MODE   auto (default): catch a request's end at the call
                             site after ServeHTTP returns (one cheap emulated
                             probe, or RET probes where there is no such
                             site); callsite: call sites only, fail otherwise;
                             ret: a probe on every RET of ServeHTTP (works
                             everywhere, each hit ~20x costlier)
          --ringbuf-mib N    ring buffer size in MiB, a power of two (default 8);
                             requests that don't fit are counted as drops

        Exit status: 0 on success, 1 when tracing fails (the message says why),
        2 on a usage error. Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN for
        uprobes since Linux 6.16, CAP_SYS_PTRACE).
        """;

    private static readonly HashSet<string> Flags = ["--help", "--no-summary"];

    public static async Task<int> RunAsync(string[] args)
    {
        var a = new ArgReader(args, Flags);
        if (a.Help) { Console.Out.Write(Help); return 0; }
        var pids = a.Values("--pid").Select(p => int.TryParse(p, out int n) && n > 0 ? n
            : throw new UsageException($"--pid must be a process id, not '{p}'")).Distinct().ToList();
        string? exePath = a.Value("--exe");
        TimeSpan? duration = a.Duration("--duration");
        string? jsonPath = a.Value("--json");
        string? outPath = a.Value("--out");
        int maxRoutes = a.Int("--max-routes", 1, 100_000) ?? RouteTable.DefaultMaxRows;
        bool noSummary = a.Flag("--no-summary");
        var endMode = (a.Value("--end-probe") ?? "auto") switch
        {
            "auto" => EndProbeMode.Auto,
            "callsite" => EndProbeMode.CallSite,
            "ret" => EndProbeMode.Ret,
            var m => throw new UsageException($"--end-probe must be auto, callsite or ret, not '{m}'"),
        };
        int ringMiB = a.Int("--ringbuf-mib", 1, 1024) ?? 8;
        bool breakdown = (a.Value("--breakdown") ?? "on") switch
        {
            "on" => true,
            "off" => false,
            var b => throw new UsageException($"--breakdown must be on or off, not '{b}'"),
        };
        bool calls = (a.Value("--calls") ?? "off") switch
        {
            "on" => true,
            "off" => false,
            var c => throw new UsageException($"--calls must be on or off, not '{c}'"),
        };
        if (calls && !breakdown) throw new UsageException("--calls on needs the breakdown: the calls ride in its records (drop --breakdown off)");
        if ((ringMiB & (ringMiB - 1)) != 0) throw new UsageException($"--ringbuf-mib must be a power of two, not {ringMiB}");
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'");
        a.RejectUnknown();
        if (pids.Count == 0 && exePath is null) throw new UsageException("choose what to trace with --pid PID or --exe PATH");
        if (pids.Count > 0 && exePath is not null) throw new UsageException("use either --pid or --exe, not both");

        KernelSupport.Check();
        // libbpf's warnings reach the user; its info/debug lines only ride along in errors.
        Sonde.Interop.Libbpf.LibbpfLog.SetSink((level, line) =>
        {
            if (level == Sonde.Interop.Libbpf.LibbpfLogLevel.Warning) Console.Error.WriteLine($"sonde: libbpf: {line}");
        });

        // Resolve and analyse every target before anything is loaded: a bad
        // target fails the command with nothing attached.
        var groups = new List<(string Path, GoExecutable Exe, List<int> Pids, bool AllProcesses)>();
        if (exePath is not null)
        {
            var full = Path.GetFullPath(exePath);
            var running = ProcessTable.ByExecutable(full);
            groups.Add((full, Analyse(full), running.Select(p => p.Pid).ToList(), true));
        }
        else
        {
            var seen = new Dictionary<FileIdentity, int>();
            foreach (int pid in pids)
            {
                var proc = ProcessTable.ByPid(pid);
                string procExe = $"/proc/{pid}/exe";
                FileIdentity.TryOf(procExe, out var id);
                if (seen.TryGetValue(id, out int g)) { groups[g].Pids.Add(pid); continue; }
                seen[id] = groups.Count;
                groups.Add((proc.ExePath, Analyse(procExe, proc.ExePath), [pid], false));
            }
        }

        var resolved = groups.Select(g => (g, Analysis: TargetAnalysis.For(g.Exe, endMode, breakdown, calls))).ToList();
        var targets = groups.SelectMany(g => (g.Pids.Count == 0 ? [0] : g.Pids).Select(pid =>
            new TargetInfo(pid, g.Path, g.Exe.BuildInfo.GoVersion) { Modules = g.Exe.BuildInfo.Modules })).ToList();

        // Outputs are opened before attaching, for the same reason.
        var stdout = Console.OpenStandardOutput();
        using var json = jsonPath is null ? null
            : new JsonRequestWriter(jsonPath == "-" ? stdout : OpenOutput(jsonPath, "--json"), leaveOpen: jsonPath == "-");
        using var capture = outPath is null ? null
            : new CaptureWriter(OpenOutput(outPath, "--out"), CaptureHeader.ForCurrentProcess(targets, Environment.GetCommandLineArgs()));
        TextWriter summaryOut = jsonPath == "-" ? Console.Error : Console.Out;

        var routes = new RouteTable(maxRoutes);
        using var tracer = new HttpTracer((uint)ringMiB << 20, breakdown);
        if (tracer.BreakdownUnavailable is { } why)
        {
            // Loose loading: the kernel refused the breakdown's programs; trace latency without them.
            Console.Error.WriteLine($"sonde: warning: {why}: tracing latency only, with the breakdown off");
            breakdown = false;
            resolved = groups.Select(g => (g, Analysis: TargetAnalysis.For(g.Exe, endMode, breakdown, calls))).ToList();
        }
        int probes = 0, tracepoints = 0;
        if (breakdown) { tracer.AttachKernelEvents(); tracepoints = HttpTracer.KernelTracepoints; }
        foreach (var (g, analysis) in resolved)
        {
            var (plan, config, source) = (analysis.Plan, analysis.Config, analysis.Source);
            foreach (var w in analysis.Warnings) Console.Error.WriteLine($"sonde: warning: {w}");
            var links = tracer.Attach(plan, config, g.Path, g.AllProcesses ? [] : g.Pids, out _);
            probes += links.Sum(l => l.Probes);
            string who = g.AllProcesses
                ? $"every process of {g.Path} (running now: {(g.Pids.Count == 0 ? "none" : string.Join(", ", g.Pids))})"
                : $"pid {string.Join(", ", g.Pids)} ({g.Path})";
            string routers = plan.Routers.Count == 0 ? "" : ", routes from " + string.Join(", ", plan.Routers.Select(r => r.Router.Name));
            if (plan.Grpc) routers += plan.Http ? ", gRPC calls (grpc-go) besides HTTP" : ", gRPC calls (grpc-go)";
            foreach (var rp in plan.RouteProblems) Console.Error.WriteLine($"sonde: warning: {g.Path}: {rp}");
            Console.Error.WriteLine($"sonde: tracing {who}: {g.Exe.BuildInfo.Described}{routers}; {plan.CostSummary}, " +
                $"request end at {(plan.EndMode == EndProbeMode.Ret ? "RETs" : "call sites")}; offsets from {source}");
        }
        var started = DateTimeOffset.Now;
        long startTicks = Environment.TickCount64;
        Console.Error.WriteLine($"sonde: probes attached: {probes} uprobes{(tracepoints > 0 ? $" and {tracepoints} kernel tracepoints ({HttpTracer.StealClock})" : "")}; {(duration is { } d ? $"capturing for {d.TotalSeconds:0.###}s" : "press Ctrl-C to stop")}");

        using var stop = new CancellationTokenSource();
        string? stopReason = null;
        void Stop(string why) { stopReason ??= why; try { stop.Cancel(); } catch (ObjectDisposedException) { } }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Stop("interrupted"); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Stop("terminated"); });
        if (duration is { } dur) stop.CancelAfter(dur);

        var knownPids = new HashSet<int>(groups.SelectMany(g => g.Pids));
        var unverifiedPids = resolved.Where(r => r.Analysis.LayoutUnverified).SelectMany(r => r.g.Pids).ToHashSet();
        bool unverifiedExe = resolved.Any(r => r.Analysis.LayoutUnverified && r.g.AllProcesses);
        var sinks = new TraceSinks(routes, json, capture)
        {
            NewPid = pid => { if (!knownPids.Contains(pid)) Console.Error.WriteLine($"\rsonde: tracing new process pid {pid}"); },
            Unverified = unverifiedPids.Count == 0 && !unverifiedExe ? null : pid => unverifiedExe || unverifiedPids.Contains(pid),
            LayoutMismatch = _ => Stop("the layout did not fit"),
        };
        bool live = !Console.IsErrorRedirected;
        using var ticker = new Timer(_ =>
        {
            if (!groups.Any(g => g.AllProcesses) && !groups.SelectMany(g => g.Pids).Any(ProcessInfo.Exists))
                Stop("every target process exited");
            if (live)
            {
                double secs = Math.Max(0.001, (Environment.TickCount64 - startTicks) / 1000.0);
                var st = tracer.ReadStats();
                Console.Error.Write($"\rsonde: {sinks.Count} requests, {sinks.Count / secs:0}/s, {st.Drops} drops   ");
            }
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        await tracer.RunAsync(sinks, stop.Token);
        ticker.Change(Timeout.Infinite, Timeout.Infinite);
        var stats = tracer.ReadStats();
        var elapsed = TimeSpan.FromMilliseconds(Environment.TickCount64 - startTicks);
        if (live) Console.Error.Write("\r" + new string(' ', 60) + "\r");
        Console.Error.WriteLine($"sonde: detached ({stopReason ?? "duration elapsed"}); {sinks.Count} requests, {stats.Drops} dropped, " +
            $"{stats.HitsPerRequest:0.00} probe hits per request" +
            (tracepoints > 0 ? $" and {stats.SchedulerHitsPerRequest.All:0.00} scheduler hits ({stats.SchedulerHitsPerRequest.OnRequests:0.00} on request goroutines)" : "") +
            $"; lost: {stats.LostSummary}");
        json?.Flush();
        capture?.Complete(stats.Drops);
        if (sinks.LayoutProblem is { } wrong)
            throw new TraceException($"{wrong}; tracing stopped. Rebuild the service without -ldflags=-w (DWARF), or use a Sonde that knows its Go") { Reason = "layout_mismatch" };

        if (!noSummary)
        {
            var summary = new TraceSummary(routes)
            {
                Targets = targets, StartTime = started, Duration = elapsed, Drops = (long)stats.Drops,
                HostName = Environment.MachineName,
            };
            new SummaryTextRenderer().Render(summary, summaryOut);
        }
        return 0;
    }

    private static GoExecutable Analyse(string path, string? shownAs = null)
    {
        try { return GoExecutable.Open(path); }
        catch (GoBinaryException e) { throw new TraceException($"{shownAs ?? path}: {e.Message}"); }
        catch (UnauthorizedAccessException) { throw new TraceException($"cannot read {shownAs ?? path}: permission denied"); }
        catch (FileNotFoundException) { throw new TraceException($"no such file: {shownAs ?? path}"); }
    }

    private static Stream OpenOutput(string path, string option)
    {
        try { return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TraceException($"{option} {path}: {e.Message}"); }
    }
}
