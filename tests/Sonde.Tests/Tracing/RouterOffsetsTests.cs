using Sonde.GoBinary;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>
/// The router offsets Sonde takes without DWARF, held against the DWARF of the
/// same server: tests/goservers/{gin,chi,echo,gorillamux} built from Debian's
/// router packages with the oldest Go (1.19) and the newest. A stripped build
/// (GOPATH mode: no router version recorded) must get from its code what its
/// unstripped twin's DWARF says, and each router's probe must be on an
/// emulated call in its ServeHTTP.
/// </summary>
public sealed class RouterOffsetsTests
{
    public static TheoryData<string, RouterKind> Servers()
    {
        var data = new TheoryData<string, RouterKind>();
        foreach (var (name, kind) in new[] { ("gin", RouterKind.Gin), ("chi", RouterKind.Chi), ("echo", RouterKind.Echo), ("gorillamux", RouterKind.GorillaMux) })
        {
            data.Add(name, kind);
            data.Add(GoMatrix.Server(GoMatrix.Newest, name), kind);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Servers))]
    public void Stripped_build_gets_the_router_offsets_DWARF_gives_its_twin(string server, RouterKind kind)
    {
        var withDwarf = GoExecutable.Open(Repo.GoServer(server));
        var stripped = GoExecutable.Open(Repo.GoServer(server + "-stripped"));
        Assert.NotNull(withDwarf.Dwarf);
        Assert.Null(stripped.Dwarf);

        var planA = ProbePlan.For(withDwarf, EndProbeMode.Auto);
        var planB = ProbePlan.For(stripped, EndProbeMode.Auto);
        Assert.Empty(planA.RouteProblems);
        Assert.Empty(planB.RouteProblems);
        var use = Assert.Single(planB.Routers);
        Assert.Equal(kind, use.Router.Kind);
        var site = Assert.Single(planB.Sites, s => s.Program == use.Router.Program);
        Assert.Equal(use.Package + use.Router.Serve, site.Function);
        Assert.Equal(ProbeKind.Emulated, site.Kind);
        Assert.StartsWith("call", site.Instruction);

        var (a, sourceA) = StructOffsets.Resolve(withDwarf, planA.Routers);
        var (b, sourceB) = StructOffsets.Resolve(stripped, planB.Routers);
        Assert.EndsWith($"{use.Router.Name} from DWARF", sourceA);
        Assert.DoesNotContain("routes off", sourceB);
        Assert.Equal(a, b);
        uint offset = kind switch
        {
            RouterKind.Gin => b.GinContextFullPath,
            RouterKind.Echo => b.EchoContextPath,
            RouterKind.Chi => b.ChiContextPatterns,
            _ => b.MuxRouteRegexpPath,
        };
        Assert.True(offset > 0, $"{server}: no offset for {use.Router.Name}");
    }

    /// <summary>A binary without the router has no router probe and no router offsets.</summary>
    [Fact]
    public void Plain_net_http_has_no_router()
    {
        var exe = GoExecutable.Open(Repo.GoServer("nethttp-stripped"));
        var plan = ProbePlan.For(exe, EndProbeMode.Auto);
        Assert.Empty(plan.Routers);
        Assert.Empty(plan.RouteProblems);
        var (config, _) = StructOffsets.Resolve(exe, plan.Routers);
        Assert.Equal(0u, config.GinContextFullPath + config.EchoContextPath + config.ChiContextPatterns + config.MuxRouteRegexpPath);
    }

    /// <summary>
    /// A version outside the releases the layouts were read from, a pseudo-version
    /// (a commit between releases) or another major version is not taken from the
    /// table: the code decides, or the routes are off.
    /// </summary>
    [Theory]
    [InlineData("v4.16.0")]
    [InlineData("v4.13.0-0.20250101000000-abcdef012345")]
    [InlineData("v5.0.0")]
    [InlineData("4.x")]
    public void Echo_versions_not_read_get_no_layout(string version) => Assert.Null(RouterLayouts.EchoContextPath(version));

    [Theory]
    [InlineData("v5.4.0")]
    [InlineData("v4.1.2")]
    [InlineData("v5.0.8-0.20220101000000-abcdef012345")]
    public void Chi_versions_not_read_get_no_layout(string version) => Assert.Null(RouterLayouts.ChiContextRoutePatterns(version));
}
