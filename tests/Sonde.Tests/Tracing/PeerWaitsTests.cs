using System.Text;
using System.Text.Json;
using Sonde.Aggregation;
using Sonde.Capture;
using Sonde.Metrics;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>
/// A request's waits by peer outside BPF: how a peer is named, how the JSON record,
/// the capture, the summary and the metrics carry them, and their caps.
/// (tests/Sonde.Tests/Integration/PeerWaitTests holds them against real peers.)
/// </summary>
public sealed class PeerWaitsTests
{
    private static Peer V4(byte a, byte b, byte c, byte d, ushort port, byte flags = 0) =>
        Peer.From(PeerKind.IPv4, flags, port, [a, b, c, d]);

    private static PeerWait W(Peer p, uint count, ulong ns) => new() { Peer = p, Count = count, Ns = ns };

    private static readonly ulong[] Breakdown = new ulong[BreakdownCategories.Count];

    private static RequestView View(ReadOnlySpan<PeerWait> waits, string path = "/x") =>
        new(1, 2, 3, 4, 5_000_000, 200, "GET"u8, Encoding.UTF8.GetBytes(path), default, Breakdown, default, RequestView.NotGrpc, waits);

    public static TheoryData<string, byte, byte, ushort, byte[], string> Names => new()
    {
        { "IPv4", (byte)PeerKind.IPv4, 0, 5432, [10, 0, 0, 5], "10.0.0.5:5432" },
        { "UDP", (byte)PeerKind.IPv4, Peer.FlagUdp, 53, [127, 0, 0, 53], "udp:127.0.0.53:53" },
        { "IPv6", (byte)PeerKind.IPv6, 0, 6379, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "[::1]:6379" },
        { "Unix path", (byte)PeerKind.Unix, 0, 0, "/run/x.sock"u8.ToArray(), "unix:/run/x.sock" },
        { "abstract", (byte)PeerKind.Unix, 0, 0, "\0name"u8.ToArray(), "unix:@name" },
        { "unnamed", (byte)PeerKind.Unix, 0, 0, [], "unix:" },
        { "cut", (byte)PeerKind.Unix, Peer.FlagTruncated, 0, Encoding.ASCII.GetBytes(new string('a', Peer.AddrMax)), "unix:" + new string('a', Peer.AddrMax) + "…" },
        { "client", (byte)PeerKind.Client, 0, 0, [], "client" },
        { "a kind from a later version", 9, 0, 0, [], "unknown" },
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void A_peer_is_named_by_what_it_is(string what, byte kind, byte flags, ushort port, byte[] addr, string name)
    {
        var p = Peer.From((PeerKind)kind, flags, port, addr);
        Assert.True(p.Name() == name, what);
    }

    [Fact]
    public void Hostile_path_bytes_are_cut_marked_and_never_raw_in_the_output()
    {
        var bytes = new byte[100];
        bytes[0] = (byte)'/';
        for (int i = 1; i < bytes.Length; i++) bytes[i] = (byte)(i % 3 == 0 ? 0x1b : i % 3 == 1 ? 0xff : '"');
        var p = Peer.From(PeerKind.Unix, 0, 0, bytes);
        Assert.Equal(Peer.AddrMax, p.AddrLen);
        Assert.True((p.Flags & Peer.FlagTruncated) != 0);
        Assert.DoesNotContain('\u001b', p.Name());
        Assert.EndsWith("…", p.Name());

        var output = new MemoryStream();
        using (var w = new JsonRequestWriter(output, leaveOpen: true)) w.Write(View([W(p, 1, 7)]));
        var reader = new Utf8JsonReader(output.ToArray());
        while (reader.Read()) { }
        Assert.DoesNotContain((byte)0x1b, output.ToArray());
        var waits = JsonDocument.Parse(output.ToArray()).RootElement.GetProperty("waits");
        Assert.Equal(7, Assert.Single(waits.EnumerateObject()).Value.GetProperty("ns").GetInt64());
    }

    [Fact]
    public void Peers_are_equal_byte_for_byte_and_hash_alike()
    {
        Assert.Equal(V4(127, 0, 0, 1, 80), V4(127, 0, 0, 1, 80));
        Assert.Equal(V4(127, 0, 0, 1, 80).GetHashCode(), V4(127, 0, 0, 1, 80).GetHashCode());
        Assert.NotEqual(V4(127, 0, 0, 1, 80), V4(127, 0, 0, 1, 81));
        Assert.NotEqual(V4(127, 0, 0, 1, 53), V4(127, 0, 0, 1, 53, Peer.FlagUdp));
    }

    [Fact]
    public void The_JSON_record_has_waits_by_peer_name()
    {
        var output = new MemoryStream();
        using (var w = new JsonRequestWriter(output, leaveOpen: true))
        {
            w.Write(View([W(V4(10, 0, 0, 5, 5432), 3, 41_234_567), W(Peer.From(PeerKind.Unix, 0, 0, "/run/r.sock"u8), 12, 803_211)]));
            w.Write(View([]));
        }
        var lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("\"waits\":{\"10.0.0.5:5432\":{\"count\":3,\"ns\":41234567},\"unix:/run/r.sock\":{\"count\":12,\"ns\":803211}}", lines[0]);
        Assert.Contains("\"waits\":{}", lines[1]);
    }

    [Fact]
    public void A_capture_keeps_the_waits()
    {
        var header = new CaptureHeader { SondeVersion = "t" };
        var output = new MemoryStream();
        var waits = new[] { W(V4(10, 0, 0, 5, 5432), 3, 41_234_567), W(Peer.From(PeerKind.Client, 0, 0, []), 1, 9) };
        using (var w = new CaptureWriter(output, header, leaveOpen: true)) w.Write(View(waits));
        output.Position = 0;
        using var reader = new CaptureReader(output);
        var view = Assert.Single(reader.ReadRequests()).AsView();
        Assert.Equal(waits.Select(x => (x.Peer.Name(), x.Count, x.Ns)), view.Peers.ToArray().Select(x => (x.Peer.Name(), x.Count, x.Ns)));
    }

    [Fact]
    public void The_summary_names_the_peers_by_time_and_folds_past_its_cap()
    {
        var b = new TimeBreakdown();
        b.Add(Breakdown, default, [W(V4(10, 0, 0, 5, 5432), 2, 30_000_000), W(V4(10, 0, 0, 6, 6379), 4, 1_000_000)]);
        b.Add(Breakdown, default, [W(V4(10, 0, 0, 5, 5432), 1, 10_000_000)]);
        var top = b.Peers();
        Assert.Equal(("10.0.0.5:5432", 3L, 40_000_000UL, 2L), top[0]);
        Assert.Equal(("10.0.0.6:6379", 4L, 1_000_000UL, 1L), top[1]);
        Assert.Equal("10.0.0.5:5432 1.5x 20.0ms", SummaryTextRenderer.SyscallText(top[0], b.Requests));

        var many = new TimeBreakdown();
        for (int i = 0; i < 10_000; i++)
            many.Add(Breakdown, default, [W(V4(10, 1, (byte)(i >> 8), (byte)i, 80), 1, 1000)]);
        var peers = many.Peers();
        Assert.Equal(TimeBreakdown.MaxPeers + 1, peers.Count);
        var other = Assert.Single(peers, p => p.Name == "other");
        Assert.Equal(10_000 - TimeBreakdown.MaxPeers, other.Count);
        Assert.Equal(10_000L, peers.Sum(p => p.Count));
    }

    [Fact]
    public void Ten_thousand_peers_stay_within_the_service_s_cap_and_what_folds_is_counted()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry, new HttpServerMetricsOptions { MaxPeersPerService = 32 });
        for (int i = 0; i < 10_000; i++)
            http.Record("shop", View([W(V4(10, 2, (byte)(i >> 8), (byte)i, 5432), 2, 1000)]));
        http.Record("cart", View([W(V4(10, 9, 9, 9, 1), 1, 5)])); // its own cap

        var snapshot = registry.Collect();
        var waits = snapshot.Families.Single(f => f.Family.Name == "sonde_request_peer_waits").Series;
        var shop = waits.Where(s => s.LabelValues[0] == "shop").ToList();
        Assert.Equal(33, shop.Count);
        Assert.Equal(2 * (10_000 - 32), shop.Single(s => s.LabelValues[2] == "other").Value);
        Assert.Equal(2 * 10_000, shop.Sum(s => s.Value));
        Assert.Equal(2 * (10_000 - 32), snapshot.Families.Single(f => f.Family.Name == "sonde_peer_overflow").Series.Single(s => s.LabelValues[0] == "shop").Value);
        Assert.Equal(["10.9.9.9:1"], waits.Where(s => s.LabelValues[0] == "cart").Select(s => s.LabelValues[2]));
        var seconds = snapshot.Families.Single(f => f.Family.Name == "sonde_request_peer_wait_seconds").Series;
        Assert.Equal(10_000 * 1000 + 5, seconds.Sum(s => s.Value) * 1e9, 3);
    }
}
