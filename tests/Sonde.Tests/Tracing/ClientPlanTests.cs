using Sonde.GoBinary;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>
/// net/http's client probes (outgoing calls) on tests/goservers/peers, which calls
/// an upstream with net/http's Transport (HTTP/1 and HTTP/2), built by the system's
/// Go 1.19 and by every toolchain of the matrix (and stripped by the newest): each
/// probe where <see cref="ProbePlan.ClientSites"/> says, on an instruction the kernel
/// emulates; and the offsets the probes read, as each toolchain's DWARF has them.
/// </summary>
public sealed class ClientPlanTests
{
    public static TheoryData<string> Servers()
    {
        var data = new TheoryData<string> { "peers" };
        foreach (var v in GoMatrix.Versions) data.Add(GoMatrix.Server(v, "peers"));
        data.Add(GoMatrix.Server(GoMatrix.Newest, "peers-stripped"));
        return data;
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public void Every_client_probe_sits_once_on_an_emulated_instruction(string server)
    {
        var exe = GoExecutable.Open(Repo.GoServer(server));
        var plan = ProbePlan.For(exe, EndProbeMode.Auto, breakdown: true, calls: true);
        Assert.True(plan.Client, $"{server}: {string.Join("; ", plan.RouteProblems)}");
        Assert.Empty(plan.RouteProblems);
        var all = plan.Sites.Where(s => s.Program.StartsWith("sonde_client_", StringComparison.Ordinal) || s.Program.StartsWith("sonde_dial_", StringComparison.Ordinal)).ToList();
        var sites = all.Where(s => s.Program.StartsWith("sonde_client_", StringComparison.Ordinal)).ToList();
        Assert.Equal(["sonde_client_start", "sonde_client_dial", "sonde_client_conn", "sonde_client_end"], sites.Take(4).Select(s => s.Program));
        Assert.Equal([ProbePlan.ClientRoundTrip, ProbePlan.ClientQueueForDial, ProbePlan.ClientRoundTrip, ProbePlan.ClientRoundTrip],
            sites.Take(4).Select(s => s.Function));
        // The bodies' Close: HTTP/1's, and the HTTP/2 client's of this Go version.
        Assert.Equal([ProbePlan.ClientBodyCloses[0], ProbePlan.ClientBodyCloses.Skip(1).First(n => exe.Functions.Find(n) is not null)],
            sites.Where(s => s.Program == "sonde_client_body").Select(s => s.Function));
        // HTTP/2: the stream's round trip, and at least one end after a call of it.
        var h2 = sites.Skip(4).Where(s => s.Program != "sonde_client_body").ToList();
        var stream = Assert.Single(h2, s => s.Program == "sonde_client_h2_conn");
        Assert.Equal(ProbePlan.Http2ClientRoundTrips.First(n => exe.Functions.Find(n) is not null), stream.Function);
        Assert.Contains(h2, s => s.Program == "sonde_client_end");
        Assert.All(h2, s => Assert.True(s.Program is "sonde_client_h2_conn" or "sonde_client_end", s.Program));
        // A new connection's phases, on the dial's goroutine.
        var dial = all.Where(s => s.Program.StartsWith("sonde_dial_", StringComparison.Ordinal)).ToList();
        Assert.Equal([("sonde_dial_start", ProbePlan.DialConnFor), ("sonde_dial_resolved", ProbePlan.DialContext), ("sonde_dial_end", ProbePlan.DialConnFor),
            ("sonde_dial_tls", ProbePlan.AddTls)], dial.Take(4).Select(s => (s.Program, s.Function)));
        Assert.Equal(2, dial.Skip(4).Count(s => s.Program == "sonde_dial_tls_done" && s.Function == ProbePlan.DialConn));
        Assert.Equal(6, dial.Count);
        foreach (var s in all)
            Assert.True(s.Kind == ProbeKind.Emulated, $"{server}: {s.Program} in {s.Function} at '{s.Instruction}' is single-stepped");
        // The ends read the calls' results right after them: the nop that pads the call, or the jcc on its error.
        Assert.All(sites.Where(s => s.Program is "sonde_client_conn" or "sonde_client_end"), s => Assert.Matches("^(j|nop|xchg ax,ax)", s.Instruction));
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public void Client_offsets_are_the_layout_table_s(string server)
    {
        var exe = GoExecutable.Open(Repo.GoServer(server));
        var plan = ProbePlan.For(exe, EndProbeMode.Auto, breakdown: true, calls: true);
        var (config, _) = StructOffsets.Resolve(exe, plan, breakdown: true);
        Assert.NotEqual(0u, config.ResponseStatusCode);
        Assert.NotEqual(0u, config.UrlHost);
        if (exe.Dwarf is { } dwarf)
        {
            Assert.Equal(dwarf.FieldOffset("net/http.Response", "StatusCode"), (int)config.ResponseStatusCode);
            Assert.Equal(dwarf.FieldOffset("net/url.URL", "Host"), (int)config.UrlHost);
            Assert.Equal(dwarf.FieldOffset("net/url.URL", "Scheme"), (int)config.UrlScheme);
            // The HTTP/2 client's end reads its response's status at the same offset: go1.27's
            // net/http/internal/http2 answers a ClientResponse of its own, older ones a *Response.
            if (exe.Functions.Find(ProbePlan.Http2ClientRoundTrips[0]) is not null)
                Assert.Equal(dwarf.FieldOffset("net/http/internal/http2.ClientResponse", "StatusCode"), (int?)config.ResponseStatusCode);
        }
    }

    [Fact]
    public void A_server_without_net_http_s_client_gets_no_client_probes()
    {
        var exe = GoExecutable.Open(Repo.GoServer("nethttp"));
        var plan = ProbePlan.For(exe, EndProbeMode.Auto, breakdown: true, calls: true);
        Assert.False(plan.Client);
        Assert.DoesNotContain(plan.Sites, s => s.Program.StartsWith("sonde_client_", StringComparison.Ordinal));
        Assert.Empty(plan.RouteProblems);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Without_the_breakdown_or_calls_on_there_are_no_client_probes_and_no_call_is_read(bool breakdown, bool calls)
    {
        var exe = GoExecutable.Open(Repo.GoServer("peers"));
        var plan = ProbePlan.For(exe, EndProbeMode.Auto, breakdown, calls);
        Assert.False(plan.Client);
        Assert.DoesNotContain(plan.Sites, s => s.Program.StartsWith("sonde_client_", StringComparison.Ordinal));
        Assert.Equal(0u, StructOffsets.Resolve(exe, plan, breakdown).Config.ResponseStatusCode);
    }
}
