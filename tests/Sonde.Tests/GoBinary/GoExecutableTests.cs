using System.Diagnostics;
using Sonde.GoBinary;
using Xunit.Abstractions;

namespace Sonde.Tests.GoBinary;

public sealed class GoExecutableTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("nethttp")]
    [InlineData("nethttp-pie")]
    [InlineData("gin-stripped")]
    public void LoadedSectionsMapBackToTheirFileOffsets(string server)
    {
        var elf = GoTestBinaries.Open(server).Elf;
        var mapped = elf.Sections.Where(s => (s.Flags & ElfSection.FlagAlloc) != 0 && s.HasFileData && s.Size > 0).ToList();
        Assert.Contains(mapped, s => s.Name == ".text");
        foreach (var s in mapped)
        {
            Assert.Equal((long)s.Offset, elf.FileOffsetOf(s.Address));
            Assert.Equal((long)(s.Offset + s.Size - 1), elf.FileOffsetOf(s.Address + s.Size - 1));
            Assert.True(elf.ReadVirtual(s.Address, (int)s.Size).SequenceEqual(elf.SectionData(s)), s.Name);
        }
        Assert.Throws<GoBinaryException>(() => elf.FileOffsetOf(0x10));
        Assert.False(elf.TryFileOffsetOf(ulong.MaxValue, out _));
    }

    [Fact]
    public void CodeIsTheFunctionsBytesInTheFile()
    {
        var exe = GoTestBinaries.Open("gin");
        var file = File.ReadAllBytes(exe.Path);
        var f = exe.Functions.Find("net/http.serverHandler.ServeHTTP")!;
        var code = exe.Code(f);
        Assert.Equal((int)f.Size, code.Length);
        Assert.True(code.SequenceEqual(file.AsSpan((int)exe.FileOffsetOf(f.Entry), (int)f.Size)));
        Assert.Equal(exe.Path, GoTestBinaries.PathOf("gin"));
    }

    [Fact]
    public void OpeningTheGinServerIsQuick()
    {
        var path = GoTestBinaries.PathOf("gin");
        GoExecutable.Open(path); // the JIT's first pass is not the daemon's steady state
        var clock = Stopwatch.StartNew();
        var exe = GoExecutable.Open(path);
        var elapsed = clock.Elapsed;
        output.WriteLine($"GoExecutable.Open(gin, {new FileInfo(path).Length / 1e6:F1} MB): {elapsed.TotalMilliseconds:F0} ms, " +
            $"{exe.Functions.Functions.Count} functions, {exe.Dwarf?.StructCount} DWARF structs");
        Assert.NotNull(exe.Dwarf);
        Assert.Null(exe.DwarfError);
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"{elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void CorruptDwarfLeavesTheRestUsable()
    {
        var image = File.ReadAllBytes(GoTestBinaries.PathOf("nethttp"));
        var info = ElfFile.Parse(image).Section(".debug_info")!;
        image[(int)info.Offset + 30] ^= 0xff; // inside the zlib stream
        var exe = GoExecutable.Load(image, "damaged");
        Assert.Null(exe.Dwarf);
        Assert.Contains(".debug_info", exe.DwarfError);
        Assert.NotNull(exe.Functions.Find("net/http.serverHandler.ServeHTTP"));
    }
}
