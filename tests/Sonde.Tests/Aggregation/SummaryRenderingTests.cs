using System.Text;
using System.Text.Json;
using Sonde.Aggregation;
using Sonde.Capture;
using Sonde.Tracing;
using Xunit.Abstractions;

namespace Sonde.Tests.Aggregation;

public class SummaryRenderingTests(ITestOutputHelper log)
{
    private static void Add(RouteTable table, string method, string path, string route, ulong durationNs, int status = 200) =>
        table.Add(new RequestView(4242, 1, 1, 0, durationNs, status,
            Encoding.UTF8.GetBytes(method), Encoding.UTF8.GetBytes(path), Encoding.UTF8.GetBytes(route)));

    /// <summary>
    /// GET /users/:id: 1000 requests, 900 at 300 µs and 100 at 5 ms, 3 of them 503;
    /// POST /orders: 10 at 2 ms; then 6 raw paths at 40 µs with a 4-row cap, so 4 fold into other.
    /// </summary>
    private static TraceSummary SampleSummary()
    {
        var table = new RouteTable(maxRows: 4);
        for (var i = 0; i < 1000; i++)
            Add(table, "GET", $"/users/{i}", "/users/:id", i < 900 ? 300_000UL : 5_000_000UL, i % 400 == 7 ? 503 : 200);
        for (var i = 0; i < 10; i++) Add(table, "POST", "/orders", "/orders", 2_000_000);
        for (var i = 0; i < 6; i++) Add(table, "GET", $"/static/{i}.js", "", 40_000);
        return new TraceSummary(table)
        {
            Targets = [new TargetInfo(4242, "/usr/bin/myservice", "go1.19.8")],
            StartTime = new DateTimeOffset(2025, 6, 15, 15, 6, 40, TimeSpan.Zero),
            Duration = TimeSpan.FromSeconds(30),
            Drops = 2,
            HostName = "web-1",
        };
    }

    /// <summary>
    /// 40 HTTP requests and 60 gRPC calls of one method: 30 OK, 20 NOT_FOUND (the
    /// client's doing), 6 UNAVAILABLE and 3 INTERNAL (server errors), 1 without a status.
    /// </summary>
    private static TraceSummary GrpcSummary()
    {
        var table = new RouteTable();
        for (var i = 0; i < 40; i++) Add(table, "GET", "/health", "/health", 100_000);
        int[] codes = [.. Enumerable.Repeat(0, 30), .. Enumerable.Repeat(5, 20), .. Enumerable.Repeat(14, 6), .. Enumerable.Repeat(13, 3), RequestView.GrpcStatusUnknown];
        foreach (int code in codes)
            table.Add(new RequestView(4242, 1, 1, 0, 1_000_000, 200, "POST"u8, "/grpc.health.v1.Health/Check"u8, "/grpc.health.v1.Health/Check"u8, grpcStatus: code));
        return new TraceSummary(table) { Duration = TimeSpan.FromSeconds(10) };
    }

    [Fact]
    public void gRPC_calls_have_a_section_with_their_status_codes_and_server_errors()
    {
        var summary = GrpcSummary();
        var text = new SummaryTextRenderer().Render(summary);
        log.WriteLine(text);
        var lines = text.Split('\n');
        Assert.Contains("  requests  100 requests in 10.0s (10.0/s), 9 errors (5xx, gRPC server errors), drops unknown", lines);
        var http = lines.SkipWhile(l => !l.StartsWith("ROUTE")).Skip(1).TakeWhile(l => l.Length > 0).ToList();
        Assert.Equal(["GET /health", "all"], http.Select(l => l.Split("  ")[0]));
        int at = Array.IndexOf(lines, "gRPC (grpc-go)");
        Assert.True(at > 0, "no gRPC section");
        Assert.Equal(["METHOD", "CALLS", "ERRORS", "P50", "P90", "P99", "MAX"], lines[at + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["/grpc.health.v1.Health/Check", "60", "9"], lines[at + 2].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..3]);
        Assert.Equal("  status  unknown 1, OK 30, NOT_FOUND 20, INTERNAL 3, UNAVAILABLE 6", lines[at + 3]);

        using var json = JsonDocument.Parse(SummaryJsonRenderer.Render(summary));
        var routes = json.RootElement.GetProperty("routes");
        Assert.Equal(["/health"], routes.EnumerateArray().Select(r => r.GetProperty("route").GetString()));
        var call = Assert.Single(json.RootElement.GetProperty("grpc").EnumerateArray());
        Assert.Equal("/grpc.health.v1.Health/Check", call.GetProperty("method").GetString());
        Assert.Equal(60, call.GetProperty("count").GetInt64());
        Assert.Equal(9, call.GetProperty("errors").GetInt64());
        Assert.Equal(new Dictionary<string, long> { ["unknown"] = 1, ["OK"] = 30, ["NOT_FOUND"] = 20, ["INTERNAL"] = 3, ["UNAVAILABLE"] = 6 },
            call.GetProperty("status_codes").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()));
        Assert.Equal(9, json.RootElement.GetProperty("total_errors").GetInt64());
    }

    [Fact]
    public void TextSummaryHasHeaderRowsPercentilesBarsAndOther()
    {
        var summary = SampleSummary();
        var text = new SummaryTextRenderer().Render(summary);
        log.WriteLine(text);
        var lines = text.Split('\n');

        Assert.Contains("  requests  1016 requests in 30.0s (33.9/s), 3 errors (5xx), 2 drops", lines);
        Assert.Contains("  started   2025-06-15 15:06:40Z on web-1", lines);
        Assert.Contains("  target    pid 4242  /usr/bin/myservice  go1.19.8", lines);

        var header = Assert.Single(lines, l => l.StartsWith("ROUTE"));
        Assert.Equal(["ROUTE", "COUNT", "5XX", "P50", "P90", "P99", "MAX"], header.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var table = lines.SkipWhile(l => l != header).Skip(1).TakeWhile(l => l.Length > 0)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();

        // Busiest first, then other, then all. 300 µs falls in the sub-bucket
        // [294912, 303104); its midpoint 299008 is clamped to the exact min.
        Assert.Equal(["GET", "/users/:id", "1000", "3", "300us", "300us", "5.00ms", "5.00ms"], table[0]);
        Assert.Equal(["POST", "/orders", "10", "0", "2.00ms", "2.00ms", "2.00ms", "2.00ms"], table[1]);
        Assert.Equal(["GET", "/static/0.js", "1", "0", "40.0us", "40.0us", "40.0us", "40.0us"], table[2]);
        Assert.Equal(["GET", "/static/1.js", "1", "0", "40.0us", "40.0us", "40.0us", "40.0us"], table[3]);
        Assert.Equal(["other", "(4", "routes", "past", "the", "4-row", "cap)", "4", "0", "40.0us", "40.0us", "40.0us", "40.0us"], table[4]);
        Assert.Equal(["all", "1016", "3", "299us", "2.02ms", "5.00ms", "5.00ms"], table[5]);
        Assert.Equal(6, table.Length);

        // The histogram of GET /users/:id: 900 in [262us, 524us) with the full bar, 100 in [4.19ms, 8.39ms).
        Assert.Contains("GET /users/:id  1000 requests, 3 errors (5xx), mean 770us", lines);
        var fullBar = Assert.Single(lines, l => l.TrimStart().StartsWith("[262us, 524us)") && l.Contains(" 900 "));
        Assert.EndsWith("|" + new string('@', 52) + "|", fullBar);
        var tail = Assert.Single(lines, l => l.TrimStart().StartsWith("[4.19ms, 8.39ms)"));
        Assert.EndsWith("|" + new string('@', 5) + new string(' ', 47) + "|", tail);
        Assert.Contains(lines, l => l.TrimStart().StartsWith("[524us, 1.05ms)") && l.Contains(" 0 |" + new string(' ', 52) + "|"));

        Assert.All(lines, l => Assert.True(l.Length <= 100, $"{l.Length} columns: {l}"));
    }

    [Fact]
    public void LinesFitTheWidthAndControlCharactersAreEscaped()
    {
        var table = new RouteTable();
        Add(table, "GET", "/" + new string('x', 300), "", 1_000);
        Add(table, "GET\u001b[2J", "/a\r\n\u009b", "", 1_000_000_000_000);
        var summary = new TraceSummary(table) { Duration = TimeSpan.FromSeconds(1), Targets = [new TargetInfo(1, "/bin/\u001bx", null)] };

        foreach (var width in new[] { 80, 100, 160 })
        {
            var text = new SummaryTextRenderer { Width = width }.Render(summary);
            log.WriteLine(text);
            Assert.All(text.Split('\n'), l => Assert.True(l.Length <= width, $"{l.Length} > {width}: {l}"));
            Assert.DoesNotContain(text, c => c is < ' ' and not '\n' || c is >= '\u007f' and <= '\u009f');
            Assert.Contains("GET\\x1b[2J /a\\x0d\\x0a\\x9b", text);
            Assert.Contains("Go version unknown", text);
            Assert.Contains("drops unknown", text);
            Assert.Contains("...", text);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new SummaryTextRenderer { Width = 79 });
    }

    [Fact]
    public void HistogramsOnlyForTheBusiestRoutes()
    {
        var table = new RouteTable();
        for (var r = 0; r < 5; r++)
            for (var i = 0; i <= r; i++) Add(table, "GET", $"/r{r}", $"/r{r}", 1_000);
        var text = new SummaryTextRenderer { MaxHistograms = 2 }.Render(new TraceSummary(table) { Duration = TimeSpan.FromSeconds(1) });
        Assert.Contains("GET /r4  5 requests", text);
        Assert.Contains("GET /r3  4 requests", text);
        Assert.DoesNotContain("GET /r2  3 requests", text);
        Assert.Contains("(3 more routes without histograms", text);
    }

    [Fact]
    public void EmptySummarySaysSo()
    {
        var text = new SummaryTextRenderer().Render(new TraceSummary(new RouteTable()));
        Assert.Contains("0 requests in 0ns (0.0/s)", text);
        Assert.Contains("No requests were traced.", text);
        Assert.Contains("target    none recorded", text);
        Assert.Contains("started   unknown", text);
    }

    [Fact]
    public void JsonSummaryHasRoutesPercentilesAndBuckets()
    {
        var json = SummaryJsonRenderer.Render(SampleSummary());
        log.WriteLine(json);
        var root = JsonDocument.Parse(json).RootElement;

        Assert.Equal("web-1", root.GetProperty("host").GetString());
        Assert.Equal(30_000_000_000, root.GetProperty("duration_ns").GetInt64());
        Assert.Equal(1016, root.GetProperty("total_requests").GetInt64());
        Assert.Equal(3, root.GetProperty("total_errors").GetInt64());
        Assert.Equal(2, root.GetProperty("drops").GetInt64());
        Assert.False(root.GetProperty("capture_truncated").GetBoolean());
        Assert.Equal(new DateTimeOffset(2025, 6, 15, 15, 6, 40, TimeSpan.Zero), root.GetProperty("start_time").GetDateTimeOffset());
        var target = Assert.Single(root.GetProperty("targets").EnumerateArray());
        Assert.Equal(4242, target.GetProperty("pid").GetInt32());
        Assert.Equal("go1.19.8", target.GetProperty("go_version").GetString());

        var routes = root.GetProperty("routes").EnumerateArray().ToArray();
        Assert.Equal(4, routes.Length);
        var users = routes[0];
        Assert.Equal("GET", users.GetProperty("method").GetString());
        Assert.Equal("/users/:id", users.GetProperty("route").GetString());
        Assert.Equal("template", users.GetProperty("route_kind").GetString());
        Assert.Equal(1000, users.GetProperty("count").GetInt64());
        Assert.Equal(3, users.GetProperty("errors").GetInt64());
        Assert.InRange(users.GetProperty("p50_ns").GetUInt64(), 300_000 * (1 - LatencyHistogram.MaxRelativeError), 300_000 * (1 + LatencyHistogram.MaxRelativeError));
        Assert.InRange(users.GetProperty("p99_ns").GetUInt64(), 5_000_000 * (1 - LatencyHistogram.MaxRelativeError), 5_000_000UL);
        Assert.Equal(5_000_000UL, users.GetProperty("max_ns").GetUInt64());
        var buckets = users.GetProperty("histogram").EnumerateArray()
            .Select(b => (b.GetProperty("lower_ns").GetUInt64(), b.GetProperty("upper_ns").GetUInt64(), b.GetProperty("count").GetInt64()))
            .ToArray();
        Assert.Equal([(1UL << 18, 1UL << 19, 900L), (1UL << 22, 1UL << 23, 100L)], buckets);
        Assert.Equal("path", routes[3].GetProperty("route_kind").GetString());

        var other = root.GetProperty("other");
        Assert.Equal(4, other.GetProperty("folded_keys").GetInt32());
        Assert.False(other.GetProperty("folded_keys_is_lower_bound").GetBoolean());
        Assert.Equal(4, other.GetProperty("count").GetInt64());
        Assert.Equal(1016, root.GetProperty("all").GetProperty("count").GetInt64());
    }

    [Fact]
    public void SummaryFromACaptureEqualsTheLiveOne()
    {
        var header = CaptureHeader.ForCurrentProcess([new TargetInfo(4242, "/usr/bin/myservice", "go1.19.8")], ["sonde", "trace"]);
        header.StartMonotonicNs = 1_000_000_000;
        header.StartTimeUnixNs = 1_750_000_000_000_000_000;
        var live = new RouteTable();
        var file = new MemoryStream();
        using (var writer = new CaptureWriter(file, header, leaveOpen: true))
        {
            var random = new Random(3);
            for (var i = 0; i < 2_000; i++)
            {
                var view = new RequestView(4242, 1, i, 1_000_000_000 + (ulong)i * 1_000_000, (ulong)random.NextInt64(10_000, 50_000_000),
                    i % 50 == 0 ? 500 : 200, "GET"u8, Encoding.UTF8.GetBytes($"/u/{i % 7}"), i % 2 == 0 ? "/u/:id"u8 : default);
                live.Add(view);
                writer.Write(view);
            }
            writer.Complete(new CaptureTrailer { EndMonotonicNs = 11_000_000_000, EndTimeUnixNs = 1_750_000_010_000_000_000, DropCount = 5, RequestCount = 2_000 });
        }

        file.Position = 0;
        using var reader = new CaptureReader(file);
        var fromFile = TraceSummary.FromCapture(reader);
        Assert.Equal(TimeSpan.FromSeconds(10), fromFile.Duration);
        Assert.Equal(5, fromFile.Drops);
        Assert.False(fromFile.CaptureTruncated);
        Assert.Equal(header.StartTime, fromFile.StartTime);
        Assert.Equal("/usr/bin/myservice", Assert.Single(fromFile.Targets).ExePath);
        Assert.Equal(2_000, fromFile.TotalRequests);
        Assert.Equal(200.0, fromFile.RequestsPerSecond);

        var liveSummary = new TraceSummary(live)
        {
            Targets = fromFile.Targets, StartTime = fromFile.StartTime, Duration = fromFile.Duration,
            Drops = fromFile.Drops, HostName = fromFile.HostName,
        };
        Assert.Equal(new SummaryTextRenderer().Render(liveSummary), new SummaryTextRenderer().Render(fromFile));
        Assert.Equal(SummaryJsonRenderer.Render(liveSummary), SummaryJsonRenderer.Render(fromFile));
    }

    [Fact]
    public void SummaryFromATruncatedCaptureSaysSo()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sonde-test-{Guid.NewGuid():N}.sonde");
        try
        {
            var header = new CaptureHeader { StartMonotonicNs = 1_000, HostName = "h" };
            using (var writer = CaptureWriter.Create(path, header))
            {
                writer.Write(new RequestView(1, 1, 1, 2_000_000_000, 500_000_000, 200, "GET"u8, "/"u8, default));
                writer.Write(new RequestView(1, 1, 1, 1_000_000_000, 100, 200, "GET"u8, "/"u8, default));
            } // no Complete: as if killed after a flush

            var summary = TraceSummary.FromCapture(path);
            Assert.True(summary.CaptureTruncated);
            Assert.Null(summary.Drops);
            Assert.Equal(2, summary.TotalRequests);
            Assert.Equal(TimeSpan.FromTicks((2_500_000_000 - 1_000) / 100), summary.Duration);
            var text = new SummaryTextRenderer().Render(summary);
            Assert.Contains("truncated", text);
            Assert.Contains("drops unknown", text);
            Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(SummaryJsonRenderer.Render(summary)).RootElement.GetProperty("drops").ValueKind);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>
/// "top syscalls per request" reads right when only some requests make a call:
/// never a mean that rounds to "0x" (issue #13's demo showed "futex 0x 61ns").
/// </summary>
public class SyscallLineTests
{
    [Theory]
    [InlineData(1600, 100, 100, "write 16x ")]        // every request: calls per request
    [InlineData(3, 3, 100, "mmap 1x in 3% ")]         // 3 of 100 requests, once each
    [InlineData(10, 2, 400, "openat 5x in 0.5% ")]    // 2 of 400, five times each
    [InlineData(1, 1, 5000, "sched_yield 1x in <0.1% ")]
    public void Share_of_requests_and_calls_per_request_that_made_it(long count, long madeIt, long requests, string expected)
    {
        string name = expected.Split(' ')[0];
        string text = Sonde.Aggregation.SummaryTextRenderer.SyscallText((name, count, 61UL * (ulong)requests, madeIt), requests);
        Assert.StartsWith(expected, text);
        Assert.EndsWith("61ns", text);
    }

    [Fact]
    public void Requests_that_made_each_call_are_counted()
    {
        var b = new Sonde.Aggregation.TimeBreakdown();
        var ns = new ulong[Sonde.Tracing.BreakdownCategories.Count];
        ns[0] = 1000;
        // getppid (110) in every request, twice; write (1) in one of four.
        for (int i = 0; i < 4; i++)
        {
            Sonde.Tracing.SyscallStat[] calls = i == 0
                ? [new(110, 2, 100), new(1, 3, 900)]
                : [new(110, 2, 100)];
            b.Add(ns, calls);
        }
        var s = b.Syscalls().ToDictionary(x => x.Name);
        Assert.Equal((8L, 400UL, 4L), (s["getppid"].Count, s["getppid"].Ns, s["getppid"].Requests));
        Assert.Equal((3L, 900UL, 1L), (s["write"].Count, s["write"].Ns, s["write"].Requests));
    }
}
