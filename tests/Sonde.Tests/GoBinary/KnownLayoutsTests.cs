using System.Reflection;
using Sonde.GoBinary;

namespace Sonde.Tests.GoBinary;

public class KnownLayoutsTests
{
    public static TheoryData<int> SupportedMinors()
    {
        var data = new TheoryData<int>();
        for (var minor = 17; minor <= KnownLayouts.SupportedGoMinors.Max; minor++)
            data.Add(minor);
        return data;
    }

    private static IEnumerable<(string Name, int Offset)> Offsets(GoLayout layout) =>
        typeof(GoLayout).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType == typeof(int))
            .Select(p => (p.Name, (int)p.GetValue(layout)!));

    [Fact]
    public void SupportedGoMinorsAre17Through27()
    {
        Assert.Equal((17, 27), KnownLayouts.SupportedGoMinors);
    }

    [Theory]
    [MemberData(nameof(SupportedMinors))]
    public void EverySupportedMinorHasEveryField(int minor)
    {
        var layout = KnownLayouts.ForGo(1, minor);

        Assert.NotNull(layout);
        var offsets = Offsets(layout).ToList();
        Assert.Equal(GoLayout.DwarfFields.Count, offsets.Count);
        // Every field Sonde reads exists in go1.17 .. go1.27, so none is Absent, but
        // Request.Pattern, which go1.23 added, and g.parentGoid, which go1.21 added
        // (and go1.25's row, which no toolchain here could check, leaves out), and go1.27's
        // internal/http2.ClientResponse.
        Assert.All(offsets, o => Assert.True(o.Offset >= 0 || (o.Name == nameof(GoLayout.RequestPattern) && minor < 23)
            || (o.Name == nameof(GoLayout.GParentGoid) && (minor < 21 || minor == 25))
            || (o.Name == nameof(GoLayout.H2ResponseBody) && minor < 27), $"go1.{minor} {o.Name} = {o.Offset}"));
        Assert.Equal(minor >= 23, layout.RequestPattern >= 0);
        Assert.Equal(minor >= 21 && minor != 25, layout.GParentGoid >= 0);
    }

    [Theory]
    [MemberData(nameof(SupportedMinors))]
    public void OffsetsRespectTheirFieldsAlignment(int minor)
    {
        var layout = KnownLayouts.ForGo(1, minor)!;
        // 1-byte fields: waitreason (uint8), wroteHeader (bool); 4-byte: atomicstatus.
        // Every other field is a pointer, int64, string, map or func: 8-aligned on amd64.
        foreach (var (name, offset) in Offsets(layout).Where(o => o.Offset != GoLayout.Absent))
        {
            var align = name switch
            {
                nameof(GoLayout.GWaitReason) or nameof(GoLayout.ResponseWroteHeader) => 1,
                nameof(GoLayout.GAtomicStatus) => 4,
                _ => 8,
            };
            Assert.True(offset % align == 0, $"go1.{minor} {name} = {offset} is not {align}-aligned");
        }
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(1, 28)]
    [InlineData(1, -1)]
    [InlineData(2, 19)]
    [InlineData(0, 19)]
    public void UnsupportedGoVersionsHaveNoLayoutAndNoWaitReasons(int major, int minor)
    {
        Assert.Null(KnownLayouts.ForGo(major, minor));
        Assert.Null(GoWaitReasons.For(major, minor));
    }

    [Theory]
    [InlineData("v1.7.0")]
    [InlineData("v1.7.4")]
    [InlineData("v1.7.7")]
    [InlineData("v1.8.0")]
    [InlineData("v1.8.1")]
    [InlineData("v1.8.2")]
    [InlineData("v1.9.0")]
    [InlineData("v1.9.1")]
    [InlineData("v1.10.0")]
    [InlineData("v1.10.1")]
    [InlineData("v1.11.0")]
    [InlineData("v1.12.0")]
    public void KnownGinVersionsHaveTheirContextLayout(string version)
    {
        Assert.Equal(112, KnownLayouts.GinContextFullPath(version));
        Assert.Equal(new KnownLayouts.GinLayout(FullPath: 112, Request: 32, WriterStatus: 24), KnownLayouts.GinContext(version));
    }

    [Fact]
    public void Gin181MatchesDwarfAndTheVPrefixIsOptional()
    {
        // From the same DWARF reading of out/goservers/gin (Gin 1.8.1):
        // gin.Context.fullPath 112, .Request 32, .writermem 0, responseWriter.status 24.
        Assert.Equal(new KnownLayouts.GinLayout(FullPath: 112, Request: 32, WriterStatus: 0 + 24), KnownLayouts.GinContext("v1.8.1"));
        Assert.Equal(112, KnownLayouts.GinContextFullPath("1.8.1"));
    }

    [Theory]
    [InlineData("v1.7.5")]   // never tagged
    [InlineData("v1.6.3")]   // older than the table
    [InlineData("v2.0.0")]
    [InlineData("v1.10.1-0.20250520093347-b5af7796535d")]
    [InlineData("(devel)")]
    [InlineData("")]
    public void UnknownGinVersionsGiveNull(string version)
    {
        Assert.Null(KnownLayouts.GinContextFullPath(version));
        Assert.Null(KnownLayouts.GinContext(version));
    }

    [Fact]
    public void GinFallbackIsTheLayoutEveryKnownVersionShares()
    {
        Assert.Equal(112, KnownLayouts.GinFallbackFullPath);
        Assert.Equal(KnownLayouts.GinContext("v1.12.0"), KnownLayouts.GinFallback);
    }

    [Theory]
    [MemberData(nameof(SupportedMinors))]
    public void WaitReasonsNameWhatSondeClassifies(int minor)
    {
        var reasons = GoWaitReasons.For(1, minor);

        Assert.NotNull(reasons);
        Assert.Equal("", reasons[0]);
        foreach (var name in new[]
                 {
                     "chan receive", "chan send", "chan receive (nil chan)", "select", "select (no cases)",
                     "sleep", "semacquire", "sync.Cond.Wait", "IO wait", "GC assist wait",
                     "GC assist marking", "wait for GC cycle", "preempted",
                 })
            Assert.Contains(name, reasons.Values);
        // sync.Mutex.Lock and the RWMutex reasons exist from go1.20 on; before
        // that a blocked Lock parks as "semacquire".
        Assert.Equal(minor >= 20, reasons.Values.Contains("sync.Mutex.Lock"));
        Assert.Equal(minor >= 20, reasons.Values.Contains("sync.RWMutex.RLock"));
        Assert.Equal(minor >= 24, reasons.Values.Contains("sync.WaitGroup.Wait"));
    }

    [Theory]
    [MemberData(nameof(SupportedMinors))]
    public void WaitReasonValuesAreDenseAndNamesUnique(int minor)
    {
        var reasons = GoWaitReasons.For(1, minor)!;

        Assert.Equal(Enumerable.Range(0, reasons.Count), reasons.Keys.Order());
        Assert.Equal(reasons.Count, reasons.Values.Distinct().Count());
    }
}
