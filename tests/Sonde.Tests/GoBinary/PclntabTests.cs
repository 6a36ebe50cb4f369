using System.Globalization;
using System.Text;
using Sonde.GoBinary;

namespace Sonde.Tests.GoBinary;

public sealed class PclntabTests
{
    [Theory]
    [InlineData("nethttp")]
    [InlineData("nethttp-pie")]
    [InlineData("nethttp-static")]
    [InlineData("gin")]
    public void FunctionsAndEntriesEqualGoToolNmTextSymbols(string server)
    {
        var exe = GoTestBinaries.Open(server);
        var functions = exe.Functions.Functions;
        Assert.True(functions.Count > 3000, $"only {functions.Count} functions");

        var fromPclntab = functions.Select(f => $"{f.Entry:x} {Canonical(f.Name)}").ToHashSet(StringComparer.Ordinal);
        var fromNm = NmTextSymbols(exe.Path).ToHashSet(StringComparer.Ordinal);
        var onlyPclntab = fromPclntab.Except(fromNm).Order(StringComparer.Ordinal).ToList();
        var onlyNm = fromNm.Except(fromPclntab).Order(StringComparer.Ordinal).ToList();
        Assert.True(onlyPclntab.Count == 0, $"in pclntab, not in nm: {string.Join(", ", onlyPclntab.Take(20))}");
        Assert.True(onlyNm.Count == 0, $"in nm, not in pclntab: {string.Join(", ", onlyNm.Take(20))}");
        Assert.Equal(fromNm.Count, functions.Count);
    }

    [Fact]
    public void PieBinaryIsPositionIndependentAndItsEntriesMapToFileOffsets()
    {
        var exe = GoTestBinaries.Open("nethttp-pie");
        Assert.True(exe.Elf.IsPositionIndependent);
        Assert.False(GoTestBinaries.Open("nethttp").Elf.IsPositionIndependent);
        var serve = exe.Functions.Find("net/http.serverHandler.ServeHTTP");
        Assert.NotNull(serve);
        var text = exe.Elf.Section(".text")!;
        Assert.Equal((long)(text.Offset + (serve.Entry - text.Address)), exe.FileOffsetOf(serve.Entry));
    }

    [Theory]
    [InlineData("nethttp", "nethttp-stripped")]
    [InlineData("gin", "gin-stripped")]
    public void StrippedBuildHasTheSameFunctionsAsItsUnstrippedTwin(string unstripped, string stripped)
    {
        var full = GoTestBinaries.Open(unstripped);
        var bare = GoTestBinaries.Open(stripped);
        Assert.Null(bare.Elf.Section(".symtab"));
        Assert.Equal(
            full.Functions.Functions.Select(f => f.Name).Order(StringComparer.Ordinal),
            bare.Functions.Functions.Select(f => f.Name).Order(StringComparer.Ordinal));
        Assert.NotNull(bare.Functions.Find("net/http.serverHandler.ServeHTTP"));
    }

    [Fact]
    public void FunctionsAreSortedContiguousAndFoundByAddress()
    {
        var exe = GoTestBinaries.Open("gin");
        var functions = exe.Functions.Functions;
        for (int i = 1; i < functions.Count; i++)
            Assert.Equal(functions[i - 1].End, functions[i].Entry);
        var handle = exe.Functions.Find("github.com/gin-gonic/gin.(*Engine).handleHTTPRequest")!;
        Assert.Same(handle, exe.Functions.FindByAddress(handle.Entry + 7));
        Assert.Null(exe.Functions.FindByAddress(0x10));
        Assert.Null(exe.Functions.Find("no/such.Function"));
        Assert.Equal(Pclntab.Magic118, exe.Functions.Magic); // go1.19
    }

    /// <summary>`go tool nm` text symbols (T/t) as "address name", canonical, minus the non-functions.</summary>
    private static IEnumerable<string> NmTextSymbols(string path)
    {
        foreach (var raw in GoTestBinaries.Run("go", ["tool", "nm", path]).Split('\n'))
        {
            // "  401000 T runtime.text": address, type letter, name (which may contain spaces).
            var line = raw.TrimStart();
            int space = line.IndexOf(' ');
            if (space < 0 || space + 3 > line.Length || line[space + 2] != ' ' || (line[space + 1] != 'T' && line[space + 1] != 't'))
                continue;
            var name = line[(space + 3)..];
            // Not functions: the text-range markers, and section symbols of the C objects cgo links in.
            if (name is "runtime.text" or "runtime.etext" || name.Contains("(.text", StringComparison.Ordinal))
                continue;
            ulong address = ulong.Parse(line[..space], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            yield return $"{address:x} {Canonical(name)}";
        }
    }

    /// <summary>
    /// One spelling for a name in both tables. The ELF symbol table marks
    /// assembly (ABI0) functions with ".abi0" (Go cmd/link/internal/ld/symtab.go,
    /// mangleABIName), writes '·' as '.', and spells out the bracketed type
    /// arguments that pclntab abbreviates as "[...]".
    /// </summary>
    private static string Canonical(string name)
    {
        if (name.EndsWith(".abi0", StringComparison.Ordinal))
            name = name[..^".abi0".Length];
        var sb = new StringBuilder(name.Length);
        int depth = 0;
        foreach (char c in name.Replace('·', '.'))
        {
            if (c == '[')
            {
                if (depth++ == 0)
                    sb.Append("[...");
                continue;
            }
            if (c == ']' && depth > 0)
            {
                if (--depth == 0)
                    sb.Append(']');
                continue;
            }
            if (depth == 0)
                sb.Append(c);
        }
        return sb.ToString();
    }
}
