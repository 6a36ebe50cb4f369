using System.Text.Json;
using Sonde.Interop.LibC;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Integration;

/// <summary>
/// `sonde trace` against real Go servers built from Debian's Go and Gin, in the
/// real kernel: every request sent is captured exactly once, with the right
/// method, path, status and route, and a duration that agrees with the
/// server's own measurement of the same request.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class TraceEndToEndTests(ITestOutputHelper output)
{
    private const int Requests = 2000;
    private const int Concurrency = 8;

    [RootTheory]
    [InlineData("nethttp", "auto")]
    [InlineData("nethttp-stripped", "auto")]
    [InlineData("nethttp-pie", "auto")]
    [InlineData("nethttp-static", "auto")]
    [InlineData("gin", "auto")]
    [InlineData("gin-stripped", "auto")]
    [InlineData("gin", "ret")]
    [InlineData("nethttp-stripped", "ret")]
    public Task Captures_every_request_exactly(string server, string endProbe) => CaptureExactly(server, endProbe);

    /// <summary>
    /// The same on every Go toolchain of the matrix (Makefile GO_MATRIX): the
    /// stripped net/http and Gin servers of each, and every variant of the newest,
    /// including static, stripped builds without .go.buildinfo (also for 1.19).
    /// </summary>
    [RootTheory]
    [MemberData(nameof(MatrixServers))]
    public Task Captures_every_request_exactly_on_every_Go(string server) => CaptureExactly(server, "auto");

    public static TheoryData<string> MatrixServers()
    {
        var data = new TheoryData<string>();
        foreach (var v in GoMatrix.Versions)
            foreach (var variant in new[] { "nethttp-stripped", "gin-stripped" })
                data.Add(GoMatrix.Server(v, variant));
        foreach (var variant in new[] { "nethttp", "nethttp-pie", "nethttp-static", "gin", "nethttp-nobuildinfo", "gin-nobuildinfo" })
            data.Add(GoMatrix.Server(GoMatrix.Newest, variant));
        data.Add("nethttp-nobuildinfo");   // Go 1.19: the version from runtime.buildVersion, bounded by the 1.18 pclntab magic
        foreach (var v in GoMatrix.PatternVersions) data.Add(GoMatrix.Server(v, "mux-stripped"));
        data.Add(GoMatrix.Server(GoMatrix.Newest, "mux"));
        return data;
    }

    /// <summary>
    /// Servers on Debian's routers (tests/goservers/{chi,echo,gorillamux,httprouter}),
    /// built with the oldest Go (the system's 1.19) and the newest, with and without
    /// symbols: stripped, the router's offsets come from the code, not DWARF.
    /// </summary>
    [RootTheory]
    [MemberData(nameof(RouterServers))]
    public Task Captures_every_request_exactly_with_its_route(string server) => CaptureExactly(server, "auto");

    /// <summary>
    /// HTTP/2 served by net/http: over TLS (ALPN) by the stripped net/http server of
    /// every Go of the matrix (Go 1.27's server is net/http/internal/http2), by the
    /// routers' servers of the newest, and cleartext (h2c, net/http's own from Go
    /// 1.24): status, method, path and route of every request, and its end.
    /// </summary>
    [RootTheory]
    [MemberData(nameof(Http2Servers))]
    public Task Captures_every_HTTP2_request_exactly(string server, string protocol) => CaptureExactly(server, "auto", protocol);

    public static TheoryData<string, string> Http2Servers()
    {
        var data = new TheoryData<string, string> { { "nethttp-stripped", "h2" } };
        foreach (var v in GoMatrix.Versions) data.Add(GoMatrix.Server(v, "nethttp-stripped"), "h2");
        foreach (var variant in new[] { "gin-stripped", "mux-stripped", "chi-stripped", "echo", "gorillamux-stripped" })
            data.Add(GoMatrix.Server(GoMatrix.Newest, variant), "h2");
        foreach (var v in GoMatrix.Versions.Where(v => int.Parse(v.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture) >= 24))
            data.Add(GoMatrix.Server(v, "nethttp-stripped"), "h2c");
        data.Add(GoMatrix.Server(GoMatrix.Newest, "mux-stripped"), "h2c");
        return data;
    }

    public static TheoryData<string> RouterServers()
    {
        var data = new TheoryData<string>();
        foreach (var router in new[] { "chi", "echo", "gorillamux", "httprouter" })
            foreach (var variant in new[] { router, router + "-stripped" })
            {
                data.Add(variant);
                data.Add(GoMatrix.Server(GoMatrix.Newest, variant));
            }
        return data;
    }

    /// <param name="protocol">http1; h2: HTTP/2 over TLS (the server's -tls); h2c: cleartext HTTP/2 (-h2c).</param>
    private async Task CaptureExactly(string server, string endProbe, string protocol = "http1")
    {
        string name = Path.GetFileName(server);
        var router = name.Split('-')[0] switch
        {
            "gin" => Router.Gin,
            "mux" => Router.ServeMuxPatterns,
            "chi" => Router.Chi,
            "echo" => Router.Echo,
            "gorillamux" => Router.GorillaMux,
            "httprouter" => Router.HttpRouter,
            _ => Router.None,
        };
        using var srv = GoServer.Start(server, extraArgs: protocol switch { "h2" => ["-tls"], "h2c" => ["-h2c"], _ => [] });
        string json = Path.Combine(Path.GetTempPath(), $"sonde-e2e-{server.Replace('/', '-')}-{endProbe}-{protocol}-{srv.Port}.jsonl");
        var bpf = BpfFootprint.Before();
        // Breakdown off: its scheduler probes fire inside the measured window (e.g. when the
        // test server's log send wakes its writer goroutine), which the server's own
        // measurement doesn't see; BreakdownTests check the breakdown itself.
        using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(), "--json", json, "--end-probe", endProbe, "--breakdown", "off");
        sonde.WaitAttached();
        Assert.Contains(endProbe == "ret" ? "request end at RETs" : "request end at call sites", sonde.Stderr);
        bpf.Attached();

        ulong before = Clock.MonotonicNs();
        using var interference = InterferenceTrace.Start(srv.Pid);
        var plan = RequestMix(router);
        var sent = await LoadClient.SendAsync(srv.BaseUrl, plan, Concurrency, http2: protocol != "http1");
        ulong after = Clock.MonotonicNs();
        interference.Stop();
        await Task.Delay(300);  // let the last events reach the consumer
        Assert.Equal(0, sonde.Interrupt());
        output.WriteLine(sonde.Stderr);

        var serverLog = srv.StopAndReadLog();
        var records = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        File.Delete(json);

        // Exactly N records, one per request sent, same method/path/status.
        Assert.Equal(Requests, sent.Count);
        Assert.All(sent, r => Assert.Equal(protocol == "http1" ? System.Net.HttpVersion.Version11 : System.Net.HttpVersion.Version20, r.Version));
        Assert.Equal(Requests, records.Count);
        static string Key(string m, string p, int s) => $"{m} {p} {s}";
        var sentKeys = sent.Select(r => Key(r.Method, r.Path.Split('?')[0], r.Status)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var gotKeys = records.Select(r => Key(r.GetProperty("method").GetString()!, r.GetProperty("path").GetString()!, r.GetProperty("status").GetInt32()))
            .OrderBy(k => k, StringComparer.Ordinal).ToList();
        Assert.Equal(sentKeys, gotKeys);

        foreach (var r in records)
        {
            Assert.Equal(srv.Pid, r.GetProperty("pid").GetInt32());
            Assert.True(r.GetProperty("tid").GetInt32() > 0);
            Assert.True(r.GetProperty("goid").GetInt64() > 0);
            ulong start = r.GetProperty("start_ns").GetUInt64();
            Assert.InRange(start, before - 1_000_000_000, after);
            string path = r.GetProperty("path").GetString()!;
            var route = r.GetProperty("route");
            Assert.Equal(ExpectedRoute(router, r.GetProperty("method").GetString()!, path), route.ValueKind == JsonValueKind.Null ? null : route.GetString());
        }

        // Each request's window contains the handler's own (tests/goservers/gopath: both
        // CLOCK_MONOTONIC, 1 µs for the two clock reads), and exceeds it only by
        // net/http's code around the handler: a few µs. Unless the kernel kept the
        // request's thread from running in between (a wakeup preemption on return
        // from a trap or a syscall, another test's work, an interrupt): its own
        // record of the same run (InterferenceTrace) names those requests. Their
        // excess is the kernel's, and the record's intervals don't hold all of a
        // context switch's cost, so they are held to containment only. Of the
        // others, 99% must be within 50 µs; at least a tenth of the requests must
        // be undisturbed for the check to mean something.
        const long ClockNs = 1_000, ExcessNs = 50_000;
        var byPath = serverLog.GroupBy(l => l.Path).Where(g => g.Count() == 1).ToDictionary(g => g.Key, g => g.Single());
        var undisturbed = new List<long>();
        var over = new List<string>();
        int matched = 0;
        foreach (var r in records)
        {
            if (!byPath.TryGetValue(r.GetProperty("path").GetString()!, out var m)) continue;
            matched++;
            long s0 = r.GetProperty("start_ns").GetInt64(), s1 = s0 + r.GetProperty("duration_ns").GetInt64();
            int tid = r.GetProperty("tid").GetInt32();
            Assert.True(s0 <= m.StartNs + ClockNs && m.EndNs <= s1 + ClockNs,
                $"{m.Path}: Sonde's window [{s0}, {s1}] does not contain the handler's [{m.StartNs}, {m.EndNs}]");
            if (interference.InterferedNs(tid, s0, m.StartNs) + interference.InterferedNs(tid, m.EndNs, s1) > 0) continue;
            long ahead = m.StartNs - s0, behind = s1 - m.EndNs;
            undisturbed.Add(ahead + behind);
            if (ahead + behind > ExcessNs)
                over.Add($"{m.Path}: {ahead / 1000.0:0.0} µs before the handler, {behind / 1000.0:0.0} µs after");
        }
        Assert.True(matched > Requests / 2, $"only {matched} requests could be matched with the server's log");
        undisturbed.Sort();
        static string Us(long ns) => $"{ns / 1000.0:0.0} µs";
        output.WriteLine($"{server}/{endProbe}/{protocol}: {records.Count}/{sent.Count} captured, {matched} matched with the server's log; " +
            $"{undisturbed.Count} undisturbed by the kernel ({interference.Count} intervals recorded): Sonde's window exceeds the handler's by " +
            (undisturbed.Count == 0 ? "-" : $"p50 {Us(undisturbed[undisturbed.Count / 2])}, p99 {Us(undisturbed[Math.Max(0, (int)(undisturbed.Count * 0.99) - 1)])}, max {Us(undisturbed[^1])}"));
        foreach (var w in over) output.WriteLine("  " + w);
        Assert.True(undisturbed.Count >= matched / 10, $"only {undisturbed.Count} of {matched} requests ran undisturbed by the kernel: too few to check");
        Assert.True(over.Count <= undisturbed.Count / 100,
            $"{over.Count} of {undisturbed.Count} undisturbed requests exceed the handler's own time by more than {ExcessNs / 1000} µs: {string.Join("; ", over.Take(5))}");

        bpf.Gone();
    }

    /// <summary>
    /// What names the route: nothing (plain net/http: the old ServeMux, whose
    /// prefixes a GOPATH-mode build keeps, route null), Gin, ServeMux patterns
    /// (tests/goservers/mux, Go 1.23+), chi, echo, gorilla/mux, or httprouter
    /// (1.3 keeps no record of the route that matched: route null).
    /// </summary>
    private enum Router { None, Gin, ServeMuxPatterns, Chi, Echo, GorillaMux, HttpRouter }

    /// <summary>Paths are unique except the /status ones, so records can be matched to the server log.</summary>
    private static List<(string, string)> RequestMix(Router router)
    {
        int[] codes = [200, 201, 404, 500, 503];
        bool routed = router != Router.None;
        var plan = new List<(string, string)>(Requests);
        for (int i = 0; i < Requests; i++)
        {
            plan.Add((i % 10) switch
            {
                0 => ("GET", $"/status/{codes[i / 10 % codes.Length]}"),
                1 when routed => ("POST", $"/users/{i}/orders"),
                2 when routed => ("GET", $"/files/dir{i}/a.txt"),
                2 => ("GET", $"/users/{i}?q=1&x=2"),
                3 when router is not (Router.None or Router.Gin) => ("GET", $"/nothing/{i}"),   // no route matches: 404, no route
                4 when router is not (Router.None or Router.Gin or Router.ServeMuxPatterns) => ("GET", $"/api/v1/items/{i}"),   // through a sub-router (chi, gorilla/mux) or group (echo)
                3 when !routed => ("GET", $"/silent/{i}"),  // writes nothing: status 200 from finishRequest
                _ => ("GET", $"/users/{i}"),
            });
        }
        return plan;
    }

    /// <summary>The route each test server registered for the request (its own syntax).</summary>
    private static string? ExpectedRoute(Router router, string method, string path)
    {
        string kind = path switch
        {
            _ when path.StartsWith("/status/", StringComparison.Ordinal) => "status",
            _ when path.StartsWith("/files/", StringComparison.Ordinal) => "files",
            _ when path.StartsWith("/nothing/", StringComparison.Ordinal) => "nothing",
            _ when path.StartsWith("/api/v1/items/", StringComparison.Ordinal) => "items",
            _ when method == "POST" => "orders",
            _ => "user",
        };
        return (router, kind) switch
        {
            (Router.None or Router.HttpRouter, _) or (_, "nothing") => null,
            (Router.Gin or Router.Echo, "status") => "/status/:code",
            (Router.Gin or Router.Echo, "orders") => "/users/:id/orders",
            (Router.Gin or Router.Echo, "user") => "/users/:id",
            (Router.Gin, "files") => "/files/*path",
            (Router.Echo, "files") => "/files/*",
            (Router.Echo, "items") => "/api/v1/items/:item",
            (_, "status") => "/status/{code}",
            (_, "orders") => "/users/{id}/orders",
            (_, "user") => "/users/{id}",
            (_, "items") => "/api/v1/items/{item}",
            (Router.ServeMuxPatterns, "files") => "/files/{path...}",
            (Router.Chi, "files") => "/files/*",
            (Router.GorillaMux, "files") => "/files/{path:.*}",
            _ => throw new InvalidOperationException($"no route for {router} {kind}"),
        };
    }
}
