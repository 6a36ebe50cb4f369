using Sonde.GoBinary;

namespace Sonde.Tracing;

/// <summary>
/// Finds the struct field offsets the BPF programs read for one binary: from
/// its DWARF when it has any, otherwise from <see cref="KnownLayouts"/> keyed
/// by the Go (and Gin) version in .go.buildinfo.
/// </summary>
public static class StructOffsets
{
    public const string GinModule = "github.com/gin-gonic/gin";

    /// <summary>Offsets and a short description of where they came from.</summary>
    public static (GoTargetConfig Config, string Source) Resolve(GoExecutable exe, bool needGin, bool breakdown = false)
    {
        var (config, source) = ResolveOffsets(exe, needGin);
        if (breakdown) SetWaitCategories(ref config, exe);
        return (config, source);
    }

    /// <summary>
    /// Why the breakdown can't be had for this binary (its Go's wait reasons are
    /// not known), or null. Its latency can still be traced.
    /// </summary>
    public static string? BreakdownProblem(GoExecutable exe)
    {
        ArgumentNullException.ThrowIfNull(exe);
        GoVersion.TryParse(exe.BuildInfo.GoVersion, out var v);
        return GoWaitReasons.For(v.Major, v.Minor) is null
            ? $"Sonde has no wait-reason table for {exe.BuildInfo.GoVersion} (it knows Go {KnownRange})"
            : null;
    }

    /// <summary>"1.17–1.27": the Go versions this Sonde has layouts for.</summary>
    public static string KnownRange => $"1.{KnownLayouts.SupportedGoMinors.Min}–1.{KnownLayouts.SupportedGoMinors.Max}";

    /// <summary>
    /// True when the offsets are the newest known version's, taken for a newer Go
    /// that has no DWARF: checked on the binary's functions (<see cref="Resolve"/>),
    /// but not known to be right. The first requests must read sane.
    /// </summary>
    public static bool IsUnverified(GoExecutable exe)
    {
        ArgumentNullException.ThrowIfNull(exe);
        return exe.Dwarf is null && GoVersion.TryParse(exe.BuildInfo.GoVersion, out var v)
            && v.Major == 1 && v.Minor > KnownLayouts.SupportedGoMinors.Max;
    }

    /// <summary>runtime.waitReason values differ per Go version: map this binary's onto categories.</summary>
    private static unsafe void SetWaitCategories(ref GoTargetConfig config, GoExecutable exe)
    {
        GoVersion.TryParse(exe.BuildInfo.GoVersion, out var v);
        var reasons = GoWaitReasons.For(v.Major, v.Minor)
            ?? throw new TraceException($"{exe.Path}: {BreakdownProblem(exe)}; use --breakdown off to trace its latency") { Reason = "breakdown_unavailable" };
        config.Breakdown = 1;
        for (int i = 0; i < 64; i++)
            config.WaitCategory[i] = (byte)(reasons.TryGetValue(i, out var name) ? BreakdownCategories.OfWaitReason(name) : BreakdownCategories.Other);
    }

    private static (GoTargetConfig Config, string Source) ResolveOffsets(GoExecutable exe, bool needGin)
    {
        string goVersion = exe.BuildInfo.GoVersion;
        if (!GoVersion.TryParse(goVersion, out var v))
            throw new TraceException($"{exe.Path}: unknown Go version '{goVersion}' in .go.buildinfo (a development toolchain?); Sonde can trace it only with DWARF in the binary") { Reason = "unknown_go_version" };
        if (v.Major != 1 || v.Minor < 17)
            throw new TraceException($"{exe.Path} was built with {goVersion}; Sonde needs Go 1.17 or newer (the register ABI its probes read)") { Reason = "old_go_version" };

        if (exe.Dwarf is { } dwarf && FromDwarf(dwarf, needGin) is { } fromDwarf)
            return (fromDwarf, "DWARF");

        var (min, max) = KnownLayouts.SupportedGoMinors;
        string unverified = "";
        if (IsUnverified(exe))
        {
            // A newer Go without DWARF: the newest known layout, once the functions Sonde
            // reads arguments of still take them as it expects.
            CheckNewestLayoutFits(exe, v);
            unverified = $", UNVERIFIED for go1.{v.Minor} (newer than this Sonde knows, no DWARF): the first requests are checked";
            v = new GoVersion(1, max, 0);
        }
        var (layout, rowSource) = KnownLayouts.Row(v.Major, v.Minor)
            ?? throw new TraceException($"{exe.Path} was built with Go 1.{v.Minor} ({goVersion}), which this Sonde does not know (it knows {KnownRange}), and has no DWARF to read its layouts from: rebuild it without -ldflags=-w, or use a newer Sonde") { Reason = "unknown_go_version" };
        var config = new GoTargetConfig
        {
            GGoid = U(layout.GGoid),
            RequestMethod = U(layout.RequestMethod),
            RequestUrl = U(layout.RequestUrl),
            UrlPath = U(layout.UrlPath),
            UrlRawPath = U(layout.UrlRawPath),
            RequestPattern = layout.RequestPattern > 0 ? (uint)layout.RequestPattern : 0,
            ResponseReq = U(layout.ResponseReq),
            ResponseStatus = U(layout.ResponseStatus),
        };
        string source = $"offsets table for go1.{v.Minor} ({rowSource}){unverified}";
        if (needGin)
        {
            exe.BuildInfo.Modules.TryGetValue(GinModule, out var ginVersion);
            var gin = ginVersion is null ? null : KnownLayouts.GinContext(ginVersion);
            string ginSource;
            if (gin is not null)
            {
                ginSource = $"gin {ginVersion}";
            }
            else
            {
                // No version, or one the table lacks: the one layout every known release shares,
                // once the binary's own code shows it.
                gin = KnownLayouts.GinFallback;
                string which = ginVersion is null ? "Gin version unknown" : $"gin {ginVersion} not in the table";
                bool seen = GinFullPathStoredAt(exe, gin.FullPath);
                ginSource = seen
                    ? $"{which}: fullPath at {gin.FullPath} checked in {ProbePlan.GinHandle}'s code"
                    : $"{which} and fullPath's offset not found in {ProbePlan.GinHandle}'s code: Gin routes off";
                if (!seen) gin = gin with { FullPath = 0 };
            }
            config.GinContextFullPath = (uint)gin.FullPath;
            source += ", " + ginSource;
        }
        return (config, source);
    }

    /// <summary>
    /// Argument sizes (bytes, from each function's pclntab record) of the functions
    /// whose registers the probes read, the same in go1.17 .. go1.27 (LayoutTableTests
    /// holds every toolchain here to them): serverHandler.ServeHTTP(sh, rw
    /// ResponseWriter, req) = 8 + 16 + 8; (*conn).serve(c, ctx context.Context) = 8 + 16.
    /// </summary>
    public static IReadOnlyList<(string Function, int ArgBytes)> ProbedSignatures { get; } =
    [
        (ProbePlan.ServeHttp, 32),
        ("net/http.(*conn).serve", 24),
    ];

    private static void CheckNewestLayoutFits(GoExecutable exe, GoVersion v)
    {
        foreach (var (name, bytes) in ProbedSignatures)
        {
            var f = exe.Functions.Find(name);
            if (f is null || f.ArgBytes != bytes)
                throw new TraceException($"{exe.Path} was built with go1.{v.Minor}, newer than this Sonde knows ({KnownRange}), and has no DWARF; " +
                    $"its {name} {(f is null ? "is missing" : $"takes {f.ArgBytes} bytes of arguments, not {bytes}")}, so the newest known layout cannot be trusted: " +
                    "rebuild it without -ldflags=-w, or use a newer Sonde") { Reason = "unknown_go_version" };
        }
    }

    /// <summary>
    /// Whether Gin's handleHTTPRequest stores a string at <paramref name="offset"/> of
    /// a struct (its <c>c.fullPath = value.fullPath</c>): 8-byte stores to
    /// [reg+offset] and [reg+offset+8] through the same register, not the stack
    /// pointer, as every Go toolchain here compiles it.
    /// </summary>
    internal static bool GinFullPathStoredAt(GoExecutable exe, int offset)
    {
        var f = exe.Functions.Find(ProbePlan.GinHandle);
        if (f is null) return false;
        var stores = MachineCode.Decode(f, exe.Code(f))
            .Where(i => i.Mnemonic == Iced.Intel.Mnemonic.Mov && i.Op0Kind == Iced.Intel.OpKind.Memory
                && i.MemorySize == Iced.Intel.MemorySize.UInt64 && i.MemoryIndex == Iced.Intel.Register.None
                && i.MemoryBase is not (Iced.Intel.Register.RSP or Iced.Intel.Register.None or Iced.Intel.Register.RIP))
            .Select(i => (i.MemoryBase, Displacement: (long)i.MemoryDisplacement64)).ToHashSet();
        return stores.Any(s => s.Displacement == offset + 8 && stores.Contains((s.MemoryBase, offset)));
    }

    private static GoTargetConfig? FromDwarf(DwarfStructs d, bool needGin)
    {
        int? goid = d.FieldOffset("runtime.g", "goid");
        int? method = d.FieldOffset("net/http.Request", "Method");
        int? url = d.FieldOffset("net/http.Request", "URL");
        int? path = d.FieldOffset("net/url.URL", "Path");
        int? rawPath = d.FieldOffset("net/url.URL", "RawPath");
        int? respReq = d.FieldOffset("net/http.response", "req");
        int? status = d.FieldOffset("net/http.response", "status");
        if (goid is null || method is null || url is null || path is null || rawPath is null || respReq is null || status is null)
            return null;
        var c = new GoTargetConfig
        {
            GGoid = (uint)goid, RequestMethod = (uint)method, RequestUrl = (uint)url, UrlPath = (uint)path,
            UrlRawPath = (uint)rawPath, ResponseReq = (uint)respReq, ResponseStatus = (uint)status,
            RequestPattern = d.FieldOffset("net/http.Request", "Pattern") is int pattern ? (uint)pattern : 0,
        };
        if (needGin)
        {
            int? full = d.FieldOffset(GinModule + ".Context", "fullPath");
            if (full is null) return null;
            c.GinContextFullPath = (uint)full;
        }
        return c;
    }

    private static uint U(int offset) => offset >= 0 ? (uint)offset
        : throw new TraceException("internal: the offsets table lacks a field Sonde needs for this Go version");
}
