using System.Text.RegularExpressions;
using Sonde.GoBinary;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.GoBinary;

/// <summary>
/// The generator of daemon/GoBinary/GoLayouts.tsv and its check. For the
/// system's Go 1.19 and every toolchain of the matrix (Makefile GO_MATRIX,
/// fetched by `make deps` into SONDE_GO_CACHE): the offsets Sonde reads, from
/// the DWARF of the Gin server that toolchain built, read by Sonde's own DWARF
/// reader; the wait-reason enum from that toolchain's src/runtime/runtime2.go.
/// `make layouts` (SONDE_WRITE_LAYOUTS=1) writes the table; otherwise the test
/// fails unless the checked-in table is exactly what the toolchains generate.
/// A missing toolchain or server fails the test; nothing is skipped.
/// </summary>
public sealed class LayoutTableTests(ITestOutputHelper output)
{
    private static string TablePath => Path.Combine(Repo.Root, "daemon", "GoBinary", "GoLayouts.tsv");

    private static string GoCache => Environment.GetEnvironmentVariable("SONDE_GO_CACHE") is { Length: > 0 } d ? d : "/var/cache/sonde-go";

    /// <summary>(minor, GOROOT, Gin server) for 1.19 and each toolchain of the matrix.</summary>
    private static IEnumerable<(int Minor, string GoRoot, string GinServer)> Toolchains()
    {
        yield return (19, "/usr/lib/go-1.19", Path.Combine(Repo.GoServers, "gin"));
        foreach (var v in GoMatrix.Versions)
            yield return (int.Parse(v.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture),
                Path.Combine(GoCache, $"go{v}", "usr", "lib", $"go-{v}"), Path.Combine(Repo.GoServers, $"go{v}", "gin"));
    }

    [Fact]
    public void Checked_in_table_is_what_every_toolchain_generates()
    {
        var layouts = new List<GeneratedLayouts.Row<GoLayout>>();
        var reasons = new List<GeneratedLayouts.Row<IReadOnlyList<string>>>();
        foreach (var (minor, goRoot, ginServer) in Toolchains())
        {
            Assert.True(File.Exists(Path.Combine(goRoot, "bin", "go")), $"Go toolchain {goRoot} is missing: run `make deps`");
            Assert.True(File.Exists(ginServer), $"{ginServer} is missing: run `make goservers`");
            string toolchain = File.ReadLines(Path.Combine(goRoot, "VERSION")).First().Trim();
            var exe = GoExecutable.Open(ginServer);
            Assert.Equal(toolchain, exe.BuildInfo.GoVersion);
            var dwarf = exe.Dwarf ?? throw new Xunit.Sdk.XunitException($"{ginServer} has no DWARF: {exe.DwarfError}");
            var layout = GoLayout.FromDwarf(dwarf) ?? throw new Xunit.Sdk.XunitException($"{ginServer}: a field Sonde reads is missing from its DWARF");
            // go1.27's HTTP/2 client, which the Gin server does not link: from the peers server (it makes calls) of the same toolchain.
            string peersServer = Path.Combine(Path.GetDirectoryName(ginServer)!, "peers");
            Assert.True(File.Exists(peersServer), $"{peersServer} is missing: run `make goservers`");
            var peersDwarf = GoExecutable.Open(peersServer).Dwarf ?? throw new Xunit.Sdk.XunitException($"{peersServer} has no DWARF");
            if (GoLayout.DwarfOffset(peersDwarf, GoLayout.H2ResponseBodyField) is int h2Body) layout = layout with { H2ResponseBody = h2Body };
            layouts.Add(new(minor, toolchain, layout, $"DWARF of tests/goservers/gin and peers built by {toolchain}"));

            // Gin's layout does not depend on Go's: the table's one layout must be what DWARF says on each.
            var gin = KnownLayouts.GinFallback;
            Assert.Equal(gin.FullPath, dwarf.FieldOffset(Sonde.Tracing.StructOffsets.GinModule + ".Context", "fullPath"));
            Assert.Equal(gin.Request, dwarf.FieldOffset(Sonde.Tracing.StructOffsets.GinModule + ".Context", "Request"));
            Assert.Equal(gin.WriterStatus, dwarf.FieldOffset(Sonde.Tracing.StructOffsets.GinModule + ".Context", "writermem")
                + dwarf.FieldOffset(Sonde.Tracing.StructOffsets.GinModule + ".responseWriter", "status"));

            // The signatures an unverified layout is checked by hold on every toolchain.
            foreach (var (function, bytes) in Sonde.Tracing.StructOffsets.ProbedSignatures)
                Assert.Equal((function, bytes), (function, exe.Functions.Find(function)?.ArgBytes ?? -1));

            string runtime2 = RuntimeSource(goRoot);
            reasons.Add(new(minor, toolchain, WaitReasonsFromSource(File.ReadAllText(runtime2)), $"src/runtime/runtime2.go of {toolchain}"));
        }
        string generated = GeneratedLayouts.Format(layouts, reasons);
        if (Environment.GetEnvironmentVariable("SONDE_WRITE_LAYOUTS") == "1")
        {
            File.WriteAllText(TablePath, generated);
            output.WriteLine($"wrote {TablePath}");
        }
        Assert.Equal(generated, File.ReadAllText(TablePath));
    }

    /// <summary>A toolchain's runtime2.go: Debian's golang-1.NN-src puts src under /usr/share/go-1.NN, linked from GOROOT.</summary>
    private static string RuntimeSource(string goRoot)
    {
        var inRoot = Path.Combine(goRoot, "src", "runtime", "runtime2.go");
        if (File.Exists(inRoot)) return inRoot;
        // GOROOT .../usr/lib/go-1.NN → .../usr/share/go-1.NN (the link may be absolute, so resolve it by hand).
        var share = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(goRoot)!)!, "share", Path.GetFileName(goRoot), "src", "runtime", "runtime2.go");
        Assert.True(File.Exists(share), $"neither {inRoot} nor {share} exists: the toolchain's golang-1.NN-src is missing");
        return share;
    }

    /// <summary>
    /// The names of runtime.waitReason in value order: the constants of the
    /// <c>waitReasonZero waitReason = iota</c> block, in order, each looked up in
    /// <c>var waitReasonStrings = [...]string{ waitReasonX: "name", ... }</c>.
    /// </summary>
    internal static IReadOnlyList<string> WaitReasonsFromSource(string runtime2)
    {
        int start = runtime2.IndexOf("waitReasonZero", StringComparison.Ordinal);
        Assert.True(start >= 0, "runtime2.go has no waitReasonZero");
        int end = runtime2.IndexOf("\n)", start, StringComparison.Ordinal);
        var constants = Regex.Matches(runtime2[start..end], @"^\s*(waitReason\w+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        constants.Insert(0, "waitReasonZero");
        constants = constants.Distinct().ToList();
        int strings = runtime2.IndexOf("var waitReasonStrings", StringComparison.Ordinal);
        Assert.True(strings >= 0, "runtime2.go has no waitReasonStrings");
        int stringsEnd = runtime2.IndexOf("\n}", strings, StringComparison.Ordinal);
        var names = Regex.Matches(runtime2[strings..stringsEnd], @"^\s*(waitReason\w+):\s*""([^""]*)""", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        return constants.Select(c => names.TryGetValue(c, out var n) ? n
            : throw new Xunit.Sdk.XunitException($"runtime2.go: {c} has no entry in waitReasonStrings")).ToList();
    }

    /// <summary>
    /// The rows derived by hand for the versions a toolchain here also builds
    /// must agree with what it generates: the hand rows of 1.17, 1.18, 1.20 and
    /// 1.25 rest on the same reading of the source.
    /// </summary>
    [Fact]
    public void Hand_rows_agree_with_the_generated_ones_where_both_exist()
    {
        var generated = GeneratedLayouts.Embedded;
        Assert.NotEmpty(generated.Layouts);
        foreach (var (minor, row) in generated.Layouts.Where(r => r.Key <= 25))
        {
            Assert.Equal(KnownLayouts.HandRow(minor), row.Value);
            Assert.Equal(GoWaitReasons.HandTable(minor).OrderBy(p => p.Key), generated.WaitReasons[minor].Value.OrderBy(p => p.Key));
        }
    }
}
