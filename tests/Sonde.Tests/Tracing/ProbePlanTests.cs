using Sonde.GoBinary;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>Where the probes land in real Go binaries of every toolchain, and what each hit costs.</summary>
public sealed class ProbePlanTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<string> Servers()
    {
        var data = new TheoryData<string> { "nethttp", "nethttp-stripped", "nethttp-pie", "gin", "gin-stripped" };
        foreach (var v in GoMatrix.Versions)
            foreach (var variant in new[] { "nethttp-stripped", "gin-stripped" })
                data.Add(GoMatrix.Server(v, variant));
        data.Add(GoMatrix.Server(GoMatrix.Newest, "nethttp-pie"));
        return data;
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public void HTTP1_requests_pay_only_emulated_probe_hits(string server)
    {
        var exe = GoExecutable.Open(Repo.GoServer(server));
        var plan = ProbePlan.For(exe, EndProbeMode.Auto, breakdown: true);
        foreach (var site in plan.Sites)
            output.WriteLine($"{exe.BuildInfo.GoVersion} {site.Program} {site.Function}+0x{site.Address - exe.Functions.Find(site.Function)!.Entry:x} {site.Kind} {site.Instruction}");
        Assert.Equal(EndProbeMode.CallSite, plan.EndMode);

        var start = Assert.Single(plan.Sites, s => s.Program == "sonde_http_start");
        Assert.Equal(ProbePlan.ServeHttp, start.Function);
        Assert.Equal(ProbeKind.Emulated, start.Kind);
        Assert.StartsWith("jbe", start.Instruction);

        // HTTP/1: the end in (*conn).serve is an emulated instruction.
        var http1End = Assert.Single(plan.Sites, s => s.Function == "net/http.(*conn).serve");
        Assert.Equal("sonde_http_end", http1End.Program);
        Assert.Equal(ProbeKind.Emulated, http1End.Kind);
        Assert.StartsWith("call", http1End.Instruction);
        // Other tail calls ((*serverHandler).ServeHTTP, HTTP/3's) end at their caller's RET.
        Assert.All(plan.Sites.Where(s => s.Kind == ProbeKind.SingleStep && s.Program.StartsWith("sonde_http", StringComparison.Ordinal)), s =>
        {
            Assert.Equal("sonde_http_end_ret", s.Program);
            Assert.StartsWith("ret", s.Instruction);
            Assert.NotEqual("net/http.(*conn).serve", s.Function);
        });

        bool gin = Path.GetFileName(server).StartsWith("gin", StringComparison.Ordinal);
        Assert.Equal(gin ? [RouterKind.Gin] : [], plan.Routers.Select(r => r.Router.Kind));
        Assert.Empty(plan.RouteProblems);
        if (gin)
        {
            var route = Assert.Single(plan.Sites, s => s.Program == "sonde_gin_route");
            Assert.Equal(StructOffsets.GinModule + ".(*Engine).ServeHTTP", route.Function);
            Assert.Equal(ProbeKind.Emulated, route.Kind);
            Assert.Contains("call", route.Instruction);
            var put = exe.Functions.Find(Router.PoolPut)!;
            Assert.EndsWith($"{put.Entry:X}h", route.Instruction, StringComparison.OrdinalIgnoreCase);
        }
        // Every call of ServeHTTP anywhere in the binary (Go 1.27 moved HTTP/2 to
        // net/http/internal/http2) has its end probe, in the function that makes it;
        // and Go 1.27's http2Handler.ServeHTTP, which calls it through the Handler
        // interface, has one after that call.
        var serveHttp = exe.Functions.Find(ProbePlan.ServeHttp)!;
        var callers = exe.Functions.Functions.Where(f => f != serveHttp && MachineCode.FindCallsTo(f, exe.Code(f), serveHttp.Entry).Count > 0)
            .Select(f => f.Name).Append(ProbePlan.Http2Handler).Where(n => exe.Functions.Find(n) is not null).Distinct().Order().ToList();
        Assert.Equal(GoVersion.TryParse(exe.BuildInfo.GoVersion, out var v) && v.Minor >= 27, exe.Functions.Find(ProbePlan.Http2Handler) is not null);
        // Those only HTTP/2 uses end instead where the HTTP/2 server's runHandler runs
        // its deferred closure after the handler: one emulated probe for every HTTP/2 request.
        var h2End = Assert.Single(plan.Sites, s => ProbePlan.Http2RunHandlers.Any(r => s.Function.StartsWith(r + ".", StringComparison.Ordinal)));
        Assert.Equal(("sonde_http_end", ProbeKind.Emulated), (h2End.Program, h2End.Kind));
        Assert.Equal(callers.Where(c => !ProbePlan.Http2OnlyCallers.Contains(c)).Append(h2End.Function).Order(),
            plan.Sites.Where(s => s.Program.StartsWith("sonde_http_end", StringComparison.Ordinal)).Select(s => s.Function).Distinct().Order());
        Assert.Contains(callers, ProbePlan.Http2OnlyCallers.Contains);
        // Every site's file offset maps back to its address.
        foreach (var s in plan.Sites) Assert.Equal(exe.FileOffsetOf(s.Address), s.FileOffset);
    }

    [Fact]
    public void Ret_mode_probes_every_ret_of_ServeHTTP()
    {
        var exe = GoExecutable.Open(Repo.GoServer("nethttp"));
        var serve = exe.Functions.Find(ProbePlan.ServeHttp)!;
        var rets = MachineCode.FindReturns(serve, exe.Code(serve));
        var plan = ProbePlan.For(exe, EndProbeMode.Ret);
        Assert.Equal(EndProbeMode.Ret, plan.EndMode);
        Assert.Equal(rets, plan.Sites.Where(s => s.Program == "sonde_http_end_ret").Select(s => s.Address));
    }
}
