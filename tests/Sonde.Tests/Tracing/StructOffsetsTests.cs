using Sonde.GoBinary;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>
/// The offsets table agrees with DWARF for the toolchain installed here
/// (go1.19): every field the BPF programs read, read at run time from the
/// unstripped binaries, equals what the table gives a stripped twin.
/// </summary>
public sealed class StructOffsetsTests
{
    [Theory]
    [InlineData("nethttp")]
    [InlineData("gin")]
    public void Table_equals_DWARF_for_this_toolchain(string server)
    {
        var exe = GoExecutable.Open(Repo.GoServer(server));
        Assert.NotNull(exe.Dwarf);
        Assert.True(GoVersion.TryParse(exe.BuildInfo.GoVersion, out var v));
        var table = KnownLayouts.ForGo(v.Major, v.Minor)!;
        var d = exe.Dwarf!;
        Assert.Equal(table.GGoid, d.FieldOffset("runtime.g", "goid"));
        Assert.Equal(table.GAtomicStatus, d.FieldOffset("runtime.g", "atomicstatus"));
        Assert.Equal(table.GWaitReason, d.FieldOffset("runtime.g", "waitreason"));
        Assert.Equal(table.GM, d.FieldOffset("runtime.g", "m"));
        Assert.Equal(table.MProcid, d.FieldOffset("runtime.m", "procid"));
        Assert.Equal(table.MCurg, d.FieldOffset("runtime.m", "curg"));
        Assert.Equal(table.RequestMethod, d.FieldOffset("net/http.Request", "Method"));
        Assert.Equal(table.RequestUrl, d.FieldOffset("net/http.Request", "URL"));
        Assert.Equal(table.UrlPath, d.FieldOffset("net/url.URL", "Path"));
        Assert.Equal(table.UrlRawPath, d.FieldOffset("net/url.URL", "RawPath"));
        Assert.Equal(table.ResponseReq, d.FieldOffset("net/http.response", "req"));
        Assert.Equal(table.ResponseStatus, d.FieldOffset("net/http.response", "status"));
        if (server == "gin")
            Assert.Equal(KnownLayouts.GinFallback.FullPath, d.FieldOffset("github.com/gin-gonic/gin.Context", "fullPath"));
    }

    public static TheoryData<string> Twins()
    {
        var data = new TheoryData<string> { "nethttp", "gin" };
        foreach (var v in GoMatrix.Versions) data.Add(GoMatrix.Server(v, "gin"));
        data.Add(GoMatrix.Server(GoMatrix.Newest, "nethttp"));
        return data;
    }

    /// <summary>
    /// On every toolchain, what a stripped build gets from the table equals what its
    /// unstripped twin gets from DWARF. The GOPATH-mode Gin builds record no Gin
    /// version, so their fullPath offset is the shared layout's, checked in the code.
    /// </summary>
    [Theory]
    [MemberData(nameof(Twins))]
    public void Stripped_binary_gets_the_same_config_as_its_DWARF_twin(string server)
    {
        var withDwarf = GoExecutable.Open(Repo.GoServer(server));
        var stripped = GoExecutable.Open(Repo.GoServer(server + "-stripped"));
        bool gin = Path.GetFileName(server) == "gin";
        var (a, sourceA) = StructOffsets.Resolve(withDwarf, ProbePlan.For(withDwarf, EndProbeMode.Auto).Routers);
        var (b, sourceB) = StructOffsets.Resolve(stripped, ProbePlan.For(stripped, EndProbeMode.Auto).Routers);
        Assert.Equal(gin ? "DWARF, gin from DWARF" : "DWARF", sourceA);
        Assert.True(GoVersion.TryParse(stripped.BuildInfo.GoVersion, out var v));
        Assert.StartsWith($"offsets table for go1.{v.Minor} (DWARF of tests/goservers/gin and peers built by {stripped.BuildInfo.GoVersion})", sourceB);
        if (gin) Assert.EndsWith($"Gin version unknown: fullPath at {KnownLayouts.GinFallback.FullPath} checked in {ProbePlan.GinHandle}'s code", sourceB);
        Assert.Equal(a, b);
    }

    public static TheoryData<string> GinServers()
    {
        var data = new TheoryData<string> { "gin" };
        foreach (var v in GoMatrix.Versions) data.Add(GoMatrix.Server(v, "gin"));
        return data;
    }

    [Theory]
    [MemberData(nameof(GinServers))]
    public void The_fullPath_store_is_found_at_its_offset_only(string server)
    {
        var exe = GoExecutable.Open(Repo.GoServer(server + "-stripped"));
        int fullPath = KnownLayouts.GinFallback.FullPath;
        Assert.True(StructOffsets.GinFullPathStoredAt(exe, fullPath));
        Assert.False(StructOffsets.GinFullPathStoredAt(exe, fullPath + 8));
        Assert.False(StructOffsets.GinFullPathStoredAt(exe, fullPath - 16));
    }
}
