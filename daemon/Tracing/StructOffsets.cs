using Sonde.GoBinary;

namespace Sonde.Tracing;

/// <summary>
/// Finds the struct field offsets the BPF programs read for one binary: from
/// its DWARF when it has any, otherwise from <see cref="KnownLayouts"/> keyed
/// by the Go version in .go.buildinfo; for routers, from DWARF or
/// <see cref="KnownLayouts.GinContext"/> and <see cref="RouterLayouts"/>.
/// </summary>
public static class StructOffsets
{
    public const string GinModule = "github.com/gin-gonic/gin";

    /// <summary>The offsets a plan's programs read (net/http's, its routers', grpc-go's), and where they came from.</summary>
    public static (GoTargetConfig Config, string Source) Resolve(GoExecutable exe, ProbePlan plan, bool breakdown = false)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var (config, source) = Resolve(exe, plan.Routers, breakdown);
        // Without the client's probes, no call is read: records say so (SONDE_F_CALLS).
        if (!plan.Client) { config.ResponseStatusCode = 0; config.ResponseBody = 0; config.H2ResponseBody = 0; }
        if (plan.Grpc)
            source += ", " + GrpcServer.Resolve(exe, ref config, plan.GrpcStatus);
        return (config, source);
    }

    /// <summary>Offsets and a short description of where they came from.</summary>
    public static (GoTargetConfig Config, string Source) Resolve(GoExecutable exe, IReadOnlyList<ProbePlan.RouterUse> routers, bool breakdown = false)
    {
        ArgumentNullException.ThrowIfNull(routers);
        var (config, source) = ResolveOffsets(exe);
        foreach (var use in routers)
            source += ", " + ResolveRouter(exe, use, ref config);
        if (breakdown) SetWaitCategories(ref config, exe);
        return (config, source);
    }

    /// <summary>
    /// One router's offsets into <paramref name="config"/>: from DWARF, else the
    /// table for its version, else the layout every checked release shares (for
    /// Gin, once the binary's code shows it). Says where they came from; a router
    /// whose offsets can't be had keeps its field 0, so its probe reads nothing.
    /// </summary>
    private static string ResolveRouter(GoExecutable exe, ProbePlan.RouterUse use, ref GoTargetConfig config)
    {
        var (router, package) = (use.Router, use.Package);
        string? version = router.ModuleVersion(exe, package);
        string named = version is null ? router.Name : $"{router.Name} {version}";
        if (exe.Dwarf is { } d && RouterFromDwarf(d, router.Kind, package, ref config))
            return $"{named} from DWARF";
        switch (router.Kind)
        {
            case RouterKind.Gin:
                var gin = version is null ? null : KnownLayouts.GinContext(version);
                if (gin is not null)
                {
                    config.GinContextFullPath = (uint)gin.FullPath;
                    return named;
                }
                // No version, or one the table lacks: the one layout every known release shares,
                // once the binary's own code shows it.
                gin = KnownLayouts.GinFallback;
                string which = version is null ? "Gin version unknown" : $"gin {version} not in the table";
                if (!GinFullPathStoredAt(exe, gin.FullPath))
                    return $"{which} and fullPath's offset not found in {ProbePlan.GinHandle}'s code: Gin routes off";
                config.GinContextFullPath = (uint)gin.FullPath;
                return $"{which}: fullPath at {gin.FullPath} checked in {ProbePlan.GinHandle}'s code";
            case RouterKind.Echo:
            {
                int? path = RouterLayouts.EchoContextPath(version);
                string find = package + ".(*Router).Find";
                if (path is null && version is null && FieldAccessed(exe, find, RouterLayouts.EchoContextPathBefore412, 2, storesOnly: true))
                {
                    config.EchoContextPath = (uint)RouterLayouts.EchoContextPathBefore412;
                    return $"{named}: version unknown, context.path at {RouterLayouts.EchoContextPathBefore412} (v4.0–v4.11) checked in {find}'s code";
                }
                if (path is null)
                    return $"{named}: {(version is null ? "version unknown" : "version not in the table")} and no layout Sonde knows matches {find}'s code: echo routes off";
                config.EchoContextPath = (uint)path;
                return named;
            }
            case RouterKind.Chi:
            {
                if (RouterLayouts.ChiContextRoutePatterns(version) is int known)
                {
                    config.ChiContextPatterns = (uint)known;
                    return named;
                }
                string findRoute = package + ".(*node).FindRoute";
                int? patterns = RouterLayouts.ChiLayouts.Select(l => (int?)l).FirstOrDefault(off => FieldAccessed(exe, findRoute, off!.Value, 3, storesOnly: false));
                if (patterns is null)
                    return $"{named}: no layout Sonde knows matches {findRoute}'s code: chi routes off";
                config.ChiContextPatterns = (uint)patterns;
                return $"{named}: {(version is null ? "version unknown" : "version not in the table")}, Context.RoutePatterns at {patterns} checked in {findRoute}'s code";
            }
            case RouterKind.GorillaMux:
            {
                (int regexpPath, int template) = RouterLayouts.MuxRoute;
                config.MuxRouteRegexpPath = (uint)regexpPath;
                config.MuxRegexpTemplate = (uint)template;
                // requestWithRoute, which the probe needs, is in v1.7.4 and later, which all share this layout.
                return version is null ? $"{named}: version unknown, the layout of v1.7.4–v1.8.1 assumed" : named;
            }
        }
        return named;
    }

    private static bool RouterFromDwarf(DwarfStructs d, RouterKind kind, string package, ref GoTargetConfig config)
    {
        switch (kind)
        {
            case RouterKind.Gin when d.FieldOffset(package + ".Context", "fullPath") is int full:
                config.GinContextFullPath = (uint)full;
                return true;
            case RouterKind.Echo when d.FieldOffset(package + ".context", "path") is int path:
                config.EchoContextPath = (uint)path;
                return true;
            case RouterKind.Chi when d.FieldOffset(package + ".Context", "RoutePatterns") is int patterns:
                config.ChiContextPatterns = (uint)patterns;
                return true;
            case RouterKind.GorillaMux when d.FieldOffset(package + ".Route", "routeConf") is int conf
                && d.FieldOffset(package + ".routeConf", "regexp") is int regexp
                && d.FieldOffset(package + ".routeRegexpGroup", "path") is int path
                && d.FieldOffset(package + ".routeRegexp", "template") is int template:
                config.MuxRouteRegexpPath = (uint)(conf + regexp + path);
                config.MuxRegexpTemplate = (uint)template;
                return true;
            default:
                return false;
        }
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

    private static (GoTargetConfig Config, string Source) ResolveOffsets(GoExecutable exe)
    {
        string goVersion = exe.BuildInfo.GoVersion;
        if (!GoVersion.TryParse(goVersion, out var v))
            throw new TraceException($"{exe.Path}: unknown Go version '{goVersion}' in .go.buildinfo (a development toolchain?); Sonde can trace it only with DWARF in the binary") { Reason = "unknown_go_version" };
        if (v.Major != 1 || v.Minor < 17)
            throw new TraceException($"{exe.Path} was built with {goVersion}; Sonde needs Go 1.17 or newer (the register ABI its probes read)") { Reason = "old_go_version" };

        if (exe.Dwarf is { } dwarf && FromDwarf(dwarf) is { } fromDwarf)
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
            RequestProtoMajor = U(layout.RequestProtoMajor),
            H2WriterState = U(layout.H2WriterState),
            H2StateStatus = U(layout.H2StateStatus),
            ResponseReq = U(layout.ResponseReq),
            ResponseStatus = U(layout.ResponseStatus),
            UrlScheme = U(layout.UrlScheme),
            UrlHost = U(layout.UrlHost),
            ResponseStatusCode = U(layout.ResponseStatusCode),
            GParentGoid = layout.GParentGoid > 0 ? (uint)layout.GParentGoid : 0,
            ResponseBody = U(layout.ResponseBody),
            // Only a binary with go1.27's HTTP/2 client has its ClientResponse (as its DWARF would say).
            H2ResponseBody = layout.H2ResponseBody > 0 && exe.Functions.Find(ProbePlan.Http2ClientRoundTrips[0]) is not null ? (uint)layout.H2ResponseBody : 0,
        };
        return (config, $"offsets table for go1.{v.Minor} ({rowSource}){unverified}");
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
    /// a struct (its <c>c.fullPath = value.fullPath</c>).
    /// </summary>
    internal static bool GinFullPathStoredAt(GoExecutable exe, int offset) =>
        FieldAccessed(exe, ProbePlan.GinHandle, offset, words: 2, storesOnly: true);

    /// <summary>
    /// Whether <paramref name="function"/>'s code moves <paramref name="words"/>
    /// consecutive 8-byte words at <paramref name="offset"/> of a struct (a string's
    /// ptr and len, a slice's ptr, len and cap) through one base register, not the
    /// stack pointer: how every Go toolchain here compiles a field's load or store.
    /// The check that a layout taken without DWARF is the binary's.
    /// </summary>
    internal static bool FieldAccessed(GoExecutable exe, string function, int offset, int words, bool storesOnly)
    {
        var f = exe.Functions.Find(function);
        if (f is null) return false;
        var moves = new HashSet<(Iced.Intel.Register Base, long Displacement)>();
        foreach (var i in MachineCode.Decode(f, exe.Code(f)))
        {
            if (i.Mnemonic != Iced.Intel.Mnemonic.Mov || i.MemorySize != Iced.Intel.MemorySize.UInt64) continue;
            bool store = i.Op0Kind == Iced.Intel.OpKind.Memory, load = i.Op1Kind == Iced.Intel.OpKind.Memory;
            if (!(store || (load && !storesOnly)) || i.MemoryIndex != Iced.Intel.Register.None
                || i.MemoryBase is Iced.Intel.Register.RSP or Iced.Intel.Register.None or Iced.Intel.Register.RIP) continue;
            moves.Add((i.MemoryBase, (long)i.MemoryDisplacement64));
        }
        return moves.Any(m => m.Displacement == offset
            && Enumerable.Range(1, words - 1).All(w => moves.Contains((m.Base, offset + 8L * w))));
    }

    private static GoTargetConfig? FromDwarf(DwarfStructs d)
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
            GParentGoid = d.FieldOffset("runtime.g", "parentGoid") is int parent ? (uint)parent : 0,
        };
        // Outgoing calls: without net/http's client in the binary's DWARF, none are read.
        if (d.FieldOffset("net/url.URL", "Scheme") is int scheme && d.FieldOffset("net/url.URL", "Host") is int host
            && d.FieldOffset("net/http.Response", "StatusCode") is int statusCode)
        {
            c.UrlScheme = (uint)scheme;
            c.UrlHost = (uint)host;
            c.ResponseStatusCode = (uint)statusCode;
            c.ResponseBody = d.FieldOffset("net/http.Response", "Body") is int body ? (uint)body : 0;
            c.H2ResponseBody = d.FieldOffset("net/http/internal/http2.ClientResponse", "Body") is int h2Body ? (uint)h2Body : 0;
        }
        // HTTP/2 status: the fields the layout table holds (net/http's bundled server up
        // to go1.26, net/http/internal/http2 from go1.27); without them, no HTTP/2 status.
        if (GoLayout.DwarfOffset(d, GoLayout.RequestProtoMajorField) is int protoMajor
            && GoLayout.DwarfOffset(d, GoLayout.H2WriterStateField) is int writerState
            && GoLayout.DwarfOffset(d, GoLayout.H2StateStatusField) is int stateStatus)
        {
            c.RequestProtoMajor = (uint)protoMajor;
            c.H2WriterState = (uint)writerState;
            c.H2StateStatus = (uint)stateStatus;
        }
        return c;
    }

    private static uint U(int offset) => offset >= 0 ? (uint)offset
        : throw new TraceException("internal: the offsets table lacks a field Sonde needs for this Go version");
}
