using Sonde.GoBinary;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>Where the probes land in real Go 1.19 binaries, and what each hit costs.</summary>
public sealed class ProbePlanTests
{
    [Theory]
    [InlineData("nethttp")]
    [InlineData("nethttp-stripped")]
    [InlineData("nethttp-pie")]
    [InlineData("gin")]
    [InlineData("gin-stripped")]
    public void HTTP1_requests_pay_only_emulated_probe_hits(string server)
    {
        var exe = GoExecutable.Open(Repo.GoServer(server));
        var plan = ProbePlan.For(exe, EndProbeMode.Auto);
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
        // Tail calls (HTTP/2's initALPNRequest) end at their caller's RET.
        Assert.All(plan.Sites.Where(s => s.Kind == ProbeKind.SingleStep), s =>
        {
            Assert.Equal("sonde_http_end_ret", s.Program);
            Assert.StartsWith("ret", s.Instruction);
            Assert.NotEqual("net/http.(*conn).serve", s.Function);
        });

        bool gin = server.StartsWith("gin", StringComparison.Ordinal);
        Assert.Equal(gin, plan.HasGin);
        Assert.Null(plan.RouteProblem);
        if (gin)
        {
            var route = Assert.Single(plan.Sites, s => s.Program == "sonde_gin_route");
            Assert.Equal(ProbePlan.GinServe, route.Function);
            Assert.Equal(ProbeKind.Emulated, route.Kind);
            Assert.Contains("call", route.Instruction);
            var put = exe.Functions.Find(ProbePlan.PoolPut)!;
            Assert.EndsWith($"{put.Entry:X}h", route.Instruction, StringComparison.OrdinalIgnoreCase);
        }
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
