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

    /// <summary>runtime.waitReason values differ per Go version: map this binary's onto categories.</summary>
    private static unsafe void SetWaitCategories(ref GoTargetConfig config, GoExecutable exe)
    {
        GoVersion.TryParse(exe.BuildInfo.GoVersion, out var v);
        var reasons = GoWaitReasons.For(v.Major, v.Minor)
            ?? throw new TraceException($"{exe.Path}: Sonde has no wait-reason table for {exe.BuildInfo.GoVersion} (it knows Go 1.{KnownLayouts.SupportedGoMinors.Min}–1.{KnownLayouts.SupportedGoMinors.Max}); use --breakdown off to trace its latency");
        config.Breakdown = 1;
        for (int i = 0; i < 64; i++)
            config.WaitCategory[i] = (byte)(reasons.TryGetValue(i, out var name) ? BreakdownCategories.OfWaitReason(name) : BreakdownCategories.Other);
    }

    private static (GoTargetConfig Config, string Source) ResolveOffsets(GoExecutable exe, bool needGin)
    {
        string goVersion = exe.BuildInfo.GoVersion;
        if (!GoVersion.TryParse(goVersion, out var v))
            throw new TraceException($"{exe.Path}: unknown Go version '{goVersion}' in .go.buildinfo");
        if (v.Major != 1 || v.Minor < 17)
            throw new TraceException($"{exe.Path} was built with {goVersion}; Sonde needs Go 1.17 or newer (the register ABI its probes read)");

        if (exe.Dwarf is { } dwarf && FromDwarf(dwarf, needGin) is { } fromDwarf)
            return (fromDwarf, "DWARF");

        var (min, max) = KnownLayouts.SupportedGoMinors;
        var (layout, rowSource) = KnownLayouts.Row(v.Major, v.Minor)
            ?? throw new TraceException($"{exe.Path} was built with Go 1.{v.Minor} ({goVersion}), which this Sonde does not know (it knows 1.{min}–1.{max}), and has no DWARF to read its layouts from: rebuild it without -ldflags=-w, or use a newer Sonde");
        var config = new GoTargetConfig
        {
            GGoid = U(layout.GGoid),
            RequestMethod = U(layout.RequestMethod),
            RequestUrl = U(layout.RequestUrl),
            UrlPath = U(layout.UrlPath),
            // url.URL.RawPath directly follows Path (a string) in every Go release since 1.5.
            UrlRawPath = U(layout.UrlPath) + 16,
            ResponseReq = U(layout.ResponseReq),
            ResponseStatus = U(layout.ResponseStatus),
        };
        string source = $"offsets table for go1.{v.Minor} ({rowSource})";
        if (needGin)
        {
            exe.BuildInfo.Modules.TryGetValue(GinModule, out var ginVersion);
            var gin = ginVersion is null ? null : KnownLayouts.GinContext(ginVersion);
            string ginSource = ginVersion is null ? "Gin version unknown, assumed the current layout" : $"gin {ginVersion}";
            gin ??= KnownLayouts.GinFallback;
            config.GinContextFullPath = U(gin.FullPath);
            source += ", " + ginSource;
        }
        return (config, source);
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
