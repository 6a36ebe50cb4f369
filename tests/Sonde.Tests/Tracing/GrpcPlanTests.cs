using Sonde.GoBinary;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>
/// grpc-go's probes and offsets on tests/goservers/grpc, built from Debian's
/// grpc 1.33 with the oldest Go (1.19) and the newest, and from trixie's 1.64
/// and sid's 1.81 (tests/toolchains/fetch-grpc.sh) with the newest: every probe on an
/// instruction the kernel emulates, and the offsets a stripped build takes from
/// its accessors' code equal to what its unstripped twin's DWARF says.
/// </summary>
public sealed class GrpcPlanTests
{
    /// <summary>Debian 12's grpc 1.33 with the oldest Go and the newest; trixie's 1.64 and sid's 1.81 with the newest.</summary>
    public static TheoryData<string> Servers() =>
        ["grpc", GoMatrix.Server(GoMatrix.Newest, "grpc"), GoMatrix.Server(GoMatrix.Newest, "grpc-trixie"), GoMatrix.Server(GoMatrix.Newest, "grpc-sid")];

    [Theory]
    [MemberData(nameof(Servers))]
    public void Every_gRPC_probe_sits_on_an_emulated_instruction(string server)
    {
        foreach (var variant in new[] { server, server + "-stripped" })
        {
            var exe = GoExecutable.Open(Repo.GoServer(variant));
            var plan = ProbePlan.For(exe, EndProbeMode.Auto);
            Assert.True(plan.Grpc && plan.GrpcStatus, variant);
            Assert.False(plan.Http, $"{variant} serves no net/http, yet {ProbePlan.ServeHttp} is linked in");
            var start = Assert.Single(plan.Sites, s => s.Program == "sonde_grpc_start");
            Assert.Equal(GrpcServer.HandleStream, start.Function);
            // Its own transport's status writer, and the net/http handler transport's:
            // WriteStatus up to grpc-go 1.68 (1.33, 1.64), writeStatus from 1.69 (1.81).
            var writers = plan.Sites.Where(s => s.Program == "sonde_grpc_status").ToList();
            int newer = server.EndsWith("-sid", StringComparison.Ordinal) ? 1 : 0;
            Assert.Equal([GrpcServer.StatusWriters[0 + newer], GrpcServer.StatusWriters[2 + newer]], writers.Select(w => w.Function).Order(StringComparer.Ordinal));
            var ends = plan.Sites.Where(s => s.Function.StartsWith(GrpcServer.Package + ".", StringComparison.Ordinal) && s.Program.StartsWith("sonde_http_end", StringComparison.Ordinal)).ToList();
            // 1.33: serveStreams' per-stream goroutine and the server worker's loop both call
            // handleStream; from 1.59 both run one closure that calls it.
            Assert.True(ends.Count >= (server == "grpc" || server.EndsWith("/grpc", StringComparison.Ordinal) ? 2 : 1), $"{variant}: {ends.Count} gRPC end probes");
            Assert.All(ends, e => Assert.NotEqual(GrpcServer.HandleStream, e.Function));
            foreach (var s in ends.Append(start).Concat(writers))
                Assert.True(s.Kind == ProbeKind.Emulated, $"{variant}: {s.Program} in {s.Function} at '{s.Instruction}' is single-stepped");
        }
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public void Stripped_build_reads_the_offsets_DWARF_gives_its_twin(string server)
    {
        var withDwarf = GoExecutable.Open(Repo.GoServer(server));
        var stripped = GoExecutable.Open(Repo.GoServer(server + "-stripped"));
        Assert.Null(stripped.Dwarf);
        var dwarf = GrpcServer.FromDwarf(withDwarf.Dwarf!);
        Assert.NotNull(dwarf);
        Assert.NotNull(dwarf.Value.Proto);
        Assert.NotNull(dwarf.Value.Code);
        Assert.Equal(dwarf, GrpcServer.FromCode(stripped));
        Assert.Equal(dwarf, GrpcServer.FromCode(withDwarf));

        var (a, sourceA) = StructOffsets.Resolve(withDwarf, ProbePlan.For(withDwarf, EndProbeMode.Auto));
        var (b, sourceB) = StructOffsets.Resolve(stripped, ProbePlan.For(stripped, EndProbeMode.Auto));
        Assert.EndsWith("grpc-go from DWARF", sourceA);
        Assert.EndsWith("grpc-go from its accessors' code", sourceB);
        Assert.Equal((uint)dwarf.Value.Method, b.GrpcStreamMethod);
        Assert.Equal((3u, 2u), (b.GrpcStatusArg, b.GrpcStatusStreamArg));
        Assert.Equal(a, b);
    }

    /// <summary>A binary without grpc-go has no gRPC probe and no gRPC offsets.</summary>
    [Fact]
    public void Plain_net_http_has_no_gRPC()
    {
        var exe = GoExecutable.Open(Repo.GoServer("nethttp-stripped"));
        var plan = ProbePlan.For(exe, EndProbeMode.Auto);
        Assert.False(plan.Grpc);
        Assert.DoesNotContain(plan.Sites, s => s.Program.StartsWith("sonde_grpc", StringComparison.Ordinal));
        var (config, _) = StructOffsets.Resolve(exe, plan);
        Assert.Equal(0u, config.GrpcStreamMethod + config.GrpcStatusArg);
    }
}
