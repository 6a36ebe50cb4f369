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
        Assert.Equal(table.UrlPath + 16, d.FieldOffset("net/url.URL", "RawPath"));
        Assert.Equal(table.ResponseReq, d.FieldOffset("net/http.response", "req"));
        Assert.Equal(table.ResponseStatus, d.FieldOffset("net/http.response", "status"));
        if (server == "gin")
            Assert.Equal(KnownLayouts.GinFallback.FullPath, d.FieldOffset("github.com/gin-gonic/gin.Context", "fullPath"));
    }

    [Theory]
    [InlineData("nethttp")]
    [InlineData("gin")]
    public void Stripped_binary_gets_the_same_config_as_its_DWARF_twin(string server)
    {
        var withDwarf = GoExecutable.Open(Repo.GoServer(server));
        var stripped = GoExecutable.Open(Repo.GoServer(server + "-stripped"));
        bool gin = server == "gin";
        var (a, sourceA) = StructOffsets.Resolve(withDwarf, gin);
        var (b, sourceB) = StructOffsets.Resolve(stripped, gin);
        Assert.Equal("DWARF", sourceA);
        Assert.StartsWith("offsets table for go1.19", sourceB);
        Assert.Equal(a, b);
    }
}
