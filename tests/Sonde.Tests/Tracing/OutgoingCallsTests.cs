using System.Text;
using System.Text.Json;
using Sonde.Aggregation;
using Sonde.Capture;
using Sonde.Metrics;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>
/// A request's outgoing calls outside BPF: how the JSON record, the capture, the
/// summary and the metrics carry them, hostile bytes, and the host cap.
/// (tests/Sonde.Tests/Integration/OutgoingCallTests holds them against real upstreams.)
/// </summary>
public sealed class OutgoingCallsTests
{
    private const ushort Done = HttpCall.FlagDone | HttpCall.FlagConn;

    private static HttpCall C(string host, ushort status = 200, ushort flags = Done, ulong conn = 1_000, ulong head = 5_000_000, string path = "/v1/x") =>
        HttpCall.From("GET"u8, Encoding.UTF8.GetBytes(host), Encoding.UTF8.GetBytes(path), status, flags, 100, conn, head);

    private static readonly ulong[] Breakdown = new ulong[BreakdownCategories.Count];

    private static RequestView View(ReadOnlySpan<HttpCall> calls) =>
        new(1, 2, 3, 4, 9_000_000, 200, "GET"u8, "/x"u8, default, Breakdown, default, RequestView.NotGrpc, default, calls, callsTraced: true);

    private static JsonElement Record(params HttpCall[] calls)
    {
        var output = new MemoryStream();
        using (var w = new JsonRequestWriter(output, leaveOpen: true)) w.Write(View(calls));
        return JsonDocument.Parse(output.ToArray()).RootElement;
    }

    [Fact]
    public void The_JSON_record_has_each_call_with_its_phases()
    {
        var r = Record(C("api:8443", flags: Done | HttpCall.FlagTls | HttpCall.FlagNewConn, conn: 2_000_000, head: 7_000_000),
            C("10.0.0.5", status: 503, conn: 3_000, head: 4_000_000));
        var calls = r.GetProperty("calls").EnumerateArray().ToList();
        Assert.Equal(2, calls.Count);
        Assert.Equal("""{"method":"GET","host":"api:8443","path":"/v1/x","status":200,"error":false,"tls":true,"new_conn":true,"start_ns":100,"duration_ns":7000000,"conn_ns":2000000,"response_ns":5000000,"dns_ns":null,"connect_ns":null,"tls_ns":null,"body_ns":null}""",
            calls[0].GetRawText());
        Assert.Equal(503, calls[1].GetProperty("status").GetInt32());
        Assert.False(calls[1].GetProperty("new_conn").GetBoolean());
        Assert.Equal(3_997_000, calls[1].GetProperty("response_ns").GetInt64());

        var dialed = C("api:8443", flags: Done | HttpCall.FlagTls | HttpCall.FlagNewConn | HttpCall.FlagDial, conn: 2_000_000) with
            { DnsNs = 300_000, ConnectNs = 200_000, TlsNs = 1_100_000 };
        var d = Record(dialed).GetProperty("calls")[0];
        Assert.Equal((300_000, 200_000, 1_100_000), (d.GetProperty("dns_ns").GetInt64(), d.GetProperty("connect_ns").GetInt64(), d.GetProperty("tls_ns").GetInt64()));

        // A body its caller closed: body_ns, from the call's start.
        var closed = C("api:8443", flags: Done | HttpCall.FlagBody, conn: 2_000, head: 4_000_000) with { BodyNs = 4_500_000 };
        Assert.Equal(4_500_000, Record(closed).GetProperty("calls")[0].GetProperty("body_ns").GetInt64());
    }

    [Fact]
    public void A_failed_call_and_an_unfinished_one_say_so_with_no_made_up_times()
    {
        var r = Record(C("down:80", status: 0, flags: HttpCall.FlagDone | HttpCall.FlagError, conn: 0, head: 1_500_000),
            C("still-running:443", status: 0, flags: HttpCall.FlagTls, conn: 0, head: 0));
        var calls = r.GetProperty("calls").EnumerateArray().ToList();
        Assert.True(calls[0].GetProperty("error").GetBoolean());
        Assert.Equal(JsonValueKind.Null, calls[0].GetProperty("status").ValueKind);
        Assert.Equal(1_500_000, calls[0].GetProperty("duration_ns").GetInt64());
        Assert.Equal(JsonValueKind.Null, calls[0].GetProperty("conn_ns").ValueKind);
        Assert.Equal(JsonValueKind.Null, calls[0].GetProperty("response_ns").ValueKind);
        foreach (var field in new[] { "status", "duration_ns", "conn_ns", "response_ns" })
            Assert.Equal(JsonValueKind.Null, calls[1].GetProperty(field).ValueKind);
        Assert.Empty(Record().GetProperty("calls").EnumerateArray());
    }

    [Fact]
    public void Hostile_host_and_path_bytes_are_cut_marked_and_escaped()
    {
        var hostile = new byte[200];
        for (int i = 0; i < hostile.Length; i++) hostile[i] = (byte)(i % 3 == 0 ? 0x1b : i % 3 == 1 ? 0xff : '"');
        var c = HttpCall.From("GET"u8, hostile, hostile, 200, Done, 1, 2, 3);
        Assert.Equal(HttpCall.HostMax, c.Host.Length);
        Assert.Equal(HttpCall.PathMax, c.Path.Length);
        Assert.True((c.Flags & (HttpCall.FlagHostTruncated | HttpCall.FlagPathTruncated)) == (HttpCall.FlagHostTruncated | HttpCall.FlagPathTruncated));
        var output = new MemoryStream();
        using (var w = new JsonRequestWriter(output, leaveOpen: true)) w.Write(View([c, c, c, c]));
        Assert.DoesNotContain((byte)0x1b, output.ToArray());
        var host = JsonDocument.Parse(output.ToArray()).RootElement.GetProperty("calls")[0].GetProperty("host").GetString()!;
        Assert.Contains('\u001b', host); // escaped in the JSON text, the character itself once parsed
    }

    [Fact]
    public void A_capture_keeps_the_calls()
    {
        var calls = new[] { C("api:8443", flags: Done | HttpCall.FlagTls | HttpCall.FlagDial, conn: 7, head: 9) with { DnsNs = 1, ConnectNs = 2, TlsNs = 3 },
            C("x", status: 0, flags: HttpCall.FlagDone | HttpCall.FlagError) };
        var output = new MemoryStream();
        using (var w = new CaptureWriter(output, new CaptureHeader { SondeVersion = "t" }, leaveOpen: true)) w.Write(View(calls));
        output.Position = 0;
        using var reader = new CaptureReader(output);
        var view = Assert.Single(reader.ReadRequests()).AsView();
        static object Key(in HttpCall c) => (Encoding.UTF8.GetString(c.Host), Encoding.UTF8.GetString(c.Path), c.Status, c.Flags, c.StartNs, c.ConnNs, c.HeadNs,
            (c.DnsNs, c.ConnectNs, c.TlsNs));
        Assert.Equal(calls.Select(c => Key(c)), view.Calls.ToArray().Select(c => Key(c)));
    }

    [Fact]
    public void The_summary_names_the_hosts_by_time_and_folds_past_its_cap()
    {
        var b = new TimeBreakdown();
        b.Add(Breakdown, default, default, [C("api", head: 10_000_000), C("api", head: 20_000_000), C("cache", head: 1_000_000)]);
        b.Add(Breakdown, default, default, [C("api", head: 10_000_000)]);
        var top = b.Hosts();
        Assert.Equal(("api", 3L, 40_000_000UL, 2L), top[0]);
        Assert.Equal(("cache", 1L, 1_000_000UL, 1L), top[1]);
        Assert.Equal("api 1.5x 20.0ms", SummaryTextRenderer.SyscallText(top[0], b.Requests));

        var many = new TimeBreakdown();
        for (int i = 0; i < 10_000; i++) many.Add(Breakdown, default, default, [C($"h{i}", head: 1000)]);
        var hosts = many.Hosts();
        Assert.Equal(TimeBreakdown.MaxPeers + 1, hosts.Count);
        Assert.Equal(10_000 - TimeBreakdown.MaxPeers, Assert.Single(hosts, h => h.Name == "other").Count);
        Assert.Equal(10_000L, hosts.Sum(h => h.Count));
    }

    [Fact]
    public void The_client_metric_follows_OpenTelemetry_s_labels_and_caps_hosts_per_service()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry, new HttpServerMetricsOptions { MaxPeersPerService = 32 });
        http.Record("shop", View([C("api.example:8443"), C("[::1]:9000", status: 503), C("down", status: 0, flags: HttpCall.FlagDone | HttpCall.FlagError),
            C("still-running:443", status: 0, flags: HttpCall.FlagTls, head: 0)]));
        for (int i = 0; i < 10_000; i++) http.Record("shop", View([C($"10.3.{i >> 8}.{i & 255}:80")]));
        http.Record("cart", View([C("cart-db:80")])); // its own cap

        var snapshot = registry.Collect();
        var series = snapshot.Families.Single(f => f.Family.Name == HttpServerMetrics.ClientDurationName).Series;
        string[] Labels(string address) => [.. series.Single(s => s.LabelValues[2] == address).LabelValues];
        Assert.Equal(["shop", "GET", "api.example", "8443", "200", ""], Labels("api.example"));
        Assert.Equal(["shop", "GET", "::1", "9000", "503", "503"], Labels("::1"));
        Assert.Equal(["shop", "GET", "down", "", "", "_OTHER"], Labels("down"));
        var shop = series.Where(s => s.LabelValues[0] == "shop").ToList();
        Assert.Equal(32 + 1, shop.Select(s => s.LabelValues[2]).Distinct().Count());
        // 3 timed calls and 29 more hosts kept; the rest folded into other and counted.
        Assert.Equal(10_000 - 29, shop.Single(s => s.LabelValues[2] == "other").Histogram!.Count);
        Assert.Equal(10_003, shop.Sum(s => s.Histogram!.Count));
        Assert.Equal(10_000 - 29, snapshot.Families.Single(f => f.Family.Name == "sonde_host_overflow").Series.Single(s => s.LabelValues[0] == "shop").Value);
        Assert.Equal(1, snapshot.Families.Single(f => f.Family.Name == "sonde_client_calls_unfinished").Series.Single(s => s.LabelValues[0] == "shop").Value);
        Assert.Equal(["cart-db"], series.Where(s => s.LabelValues[0] == "cart").Select(s => s.LabelValues[2]));
    }

    [Theory]
    [InlineData("api:8080", "api", "8080")]
    [InlineData("api", "api", "")]
    [InlineData("10.0.0.5:443", "10.0.0.5", "443")]
    [InlineData("[::1]:9000", "::1", "9000")]
    [InlineData("[fe80::1]", "fe80::1", "")]
    [InlineData("api:", "api:", "")]
    public void A_host_splits_into_address_and_port_only_where_the_URL_has_one(string host, string address, string port) =>
        Assert.Equal((address, port), ServiceRoutes.SplitHost(host));
}
