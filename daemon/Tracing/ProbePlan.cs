using Iced.Intel;
using Sonde.GoBinary;

namespace Sonde.Tracing;

/// <summary>
/// The uprobes one Go binary needs for request spans, and where each one sits.
/// <para>
/// Every probe is placed on an instruction the kernel emulates where one sees
/// what the program needs: a uprobe on an instruction that must be
/// single-stepped costs ~20× more (DESIGN.md, measured on these VMs).
/// </para>
/// <list type="bullet">
/// <item>start: net/http.serverHandler.ServeHTTP, at the jcc of its stack-check
/// prologue (arguments still in registers).</item>
/// <item>end: after each call of ServeHTTP in net/http, the first emulated
/// instruction of the straight-line code that follows (in Go 1.19's
/// (*conn).serve: the <c>call (*conn).hijacked</c>); or every RET of ServeHTTP
/// when that can't be found. Never a uretprobe.</item>
/// <item>routes: one probe per router linked in, at a call inside its ServeHTTP
/// (<see cref="Router"/>): gin, echo and chi where their context goes back to
/// its pool, gorilla/mux where the matched route is attached to the request.</item>
/// </list>
/// </summary>
public sealed class ProbePlan
{
    public const string ServeHttp = "net/http.serverHandler.ServeHTTP";
    public const string GinHandle = "github.com/gin-gonic/gin.(*Engine).handleHTTPRequest";

    private ProbePlan(IReadOnlyList<ProbeSite> sites, EndProbeMode endMode, IReadOnlyList<RouterUse> routers, IReadOnlyList<string> routeProblems)
    {
        Sites = sites;
        EndMode = endMode;
        Routers = routers;
        RouteProblems = routeProblems;
    }

    /// <summary>A router linked into the binary whose routes are read, under which package path.</summary>
    public sealed record RouterUse(Router Router, string Package);

    /// <summary>Whether the Go scheduler probes for the breakdown are part of the plan.</summary>
    public bool Breakdown { get; private init; }

    /// <summary>Why a router's routes can't be read from this binary, one line per router; empty when they can.</summary>
    public IReadOnlyList<string> RouteProblems { get; }

    /// <summary>The routers whose routes are read, each with its probe in <see cref="Sites"/>.</summary>
    public IReadOnlyList<RouterUse> Routers { get; }

    public IReadOnlyList<ProbeSite> Sites { get; }
    /// <summary>CallSite or Ret: what was chosen.</summary>
    public EndProbeMode EndMode { get; }

    /// <summary>Probe hits per request, by kind (the start may fire twice when the stack grows).</summary>
    public string CostSummary
    {
        get
        {
            int emulated = Sites.Count(s => s.Kind == ProbeKind.Emulated);
            int stepped = Sites.Count - emulated;
            return $"{Sites.Count} uprobes ({emulated} on emulated instructions, {stepped} single-stepped)";
        }
    }

    /// <summary>Go runtime functions the breakdown probes, with its BPF program and the registers it reads.</summary>
    private static readonly (string Function, string Program, Register[] Reads)[] SchedulerProbes =
    [
        ("runtime.gopark", "sonde_go_park", [Register.RCX, Register.R14]),          // reason is the 3rd argument
        ("runtime.execute", "sonde_go_execute", [Register.RAX]),                     // gp
        ("runtime.ready", "sonde_go_ready", [Register.RAX]),                         // gp
        ("runtime.stopTheWorldWithSema", "sonde_go_stw_start", []),
        ("runtime.startTheWorldWithSema", "sonde_go_stw_end", []),
    ];

    public static ProbePlan For(GoExecutable exe, EndProbeMode mode, bool breakdown = false)
    {
        var serve = exe.Functions.Find(ServeHttp)
            ?? throw new TraceException($"{exe.Path} has no HTTP server symbols: {ServeHttp} is not in its .gopclntab (is net/http's server linked in?)") { Reason = "no_http_server" };
        var sites = new List<ProbeSite>();
        var serveCode = exe.Code(serve);
        // Go ABIInternal: req in RDI, rw in RBX/RCX, g in R14 (DESIGN.md).
        ulong start = MachineCode.ChooseEntryProbe(serve, serveCode, Register.RAX, Register.RBX, Register.RCX, Register.RDI, Register.R14);
        sites.Add(Site(exe, "sonde_http_start", serve, serveCode, start));

        EndProbeMode chosen = mode;
        List<ProbeSite>? ends = null;
        if (mode != EndProbeMode.Ret)
        {
            ends = CallSiteEnds(exe, serve);
            if (ends is null)
            {
                if (mode == EndProbeMode.CallSite)
                    throw new TraceException($"{exe.Path}: no call site of {ServeHttp} is followed by an instruction the kernel emulates; use --end-probe ret");
                chosen = EndProbeMode.Ret;
            }
            else chosen = EndProbeMode.CallSite;
        }
        if (chosen == EndProbeMode.Ret)
        {
            var rets = MachineCode.FindReturns(serve, serveCode);
            if (rets.Count == 0) throw new TraceException($"{exe.Path}: {ServeHttp} has no RET instruction to probe");
            ends = new List<ProbeSite>(rets.Count);
            foreach (ulong r in rets) ends.Add(Site(exe, "sonde_http_end_ret", serve, serveCode, r));
        }
        sites.AddRange(ends!);

        var routers = new List<RouterUse>();
        var routeProblems = new List<string>();
        foreach (var router in Router.All)
        {
            if (router.FindIn(exe) is not { } found) continue;
            var (site, problem) = RouteSite(exe, router, found.Package, found.Serve);
            if (site is not null)
            {
                sites.Add(site);
                routers.Add(new RouterUse(router, found.Package));
            }
            else routeProblems.Add($"{router.Name} routes will be unknown: {problem}");
        }
        if (breakdown)
        {
            foreach (var (name, program, reads) in SchedulerProbes)
            {
                var f = exe.Functions.Find(name)
                    ?? throw new TraceException($"{exe.Path}: {name} is not in .gopclntab; the breakdown needs it (use --breakdown off)") { Reason = "breakdown_unavailable" };
                var code = exe.Code(f);
                sites.Add(Site(exe, program, f, code, MachineCode.ChooseEntryProbe(f, code, reads)));
            }
        }
        return new ProbePlan(sites, chosen, routers, routeProblems) { Breakdown = breakdown };
    }

    /// <summary>
    /// The router's probe: the one call of <see cref="Router.Call"/> in its ServeHTTP
    /// (for gin: the first call after handleHTTPRequest returns, with only
    /// straight-line code before it; Go 1.27 pads it with a 2-byte NOP), or why
    /// there is none. A call rel32 is emulated.
    /// </summary>
    private static (ProbeSite? Site, string? Problem) RouteSite(GoExecutable exe, Router router, string package, GoFunction serve)
    {
        string callName = router.CallIn(package);
        var target = exe.Functions.Find(callName);
        if (target is null)
            return (null, $"{callName} is not in the binary (inlined?)");
        var code = exe.Code(serve);
        if (router.Kind == RouterKind.Gin)
        {
            var handle = exe.Functions.Find(GinHandle);
            var handles = handle is null ? [] : MachineCode.FindCallsTo(serve, code, handle.Entry);
            if (handles.Count != 1)
                return (null, $"{serve.Name} does not call {GinHandle} once ({handles.Count} calls)");
            var insn = MachineCode.Decode(serve, code).SkipWhile(i => i.IP < handles[0] + 5)
                .FirstOrDefault(i => i.FlowControl != Iced.Intel.FlowControl.Next || i.IsCallNear);
            if (!insn.IsCallNear || insn.NearBranchTarget != target.Entry)
                return (null, $"the code after {GinHandle} returns is not the expected call of {Router.PoolPut}");
            return (Site(exe, router.Program, serve, code, insn.IP), null);
        }
        var calls = MachineCode.FindCallsTo(serve, code, target.Entry);
        if (calls.Count != 1)
            return (null, $"{serve.Name} calls {callName} {calls.Count} times, not once");
        return (Site(exe, router.Program, serve, code, calls[0]), null);
    }

    /// <summary>
    /// Every call of ServeHTTP from net/http (Go 1.19: (*conn).serve for HTTP/1,
    /// initALPNRequest.ServeHTTP for HTTP/2), each with the first emulated
    /// instruction that straight-line code reaches after it, or the caller's
    /// RET when the call is in tail position (then only that path pays for a
    /// single-step). Null if any call site has neither.
    /// </summary>
    private static List<ProbeSite>? CallSiteEnds(GoExecutable exe, GoFunction serve)
    {
        var ends = new List<ProbeSite>();
        foreach (var f in exe.Functions.Functions)
        {
            if (!f.Name.StartsWith("net/http.", StringComparison.Ordinal) || f == serve) continue;
            var code = exe.Code(f);
            foreach (ulong call in MachineCode.FindCallsTo(f, code, serve.Entry))
            {
                ulong? after = MachineCode.FirstEmulatableAfter(f, code, call + 5, orReturn: true); // call rel32 is 5 bytes
                if (after is null) return null;
                var site = Site(exe, "sonde_http_end", f, code, after.Value);
                if (site.Instruction.StartsWith("ret", StringComparison.Ordinal))
                    site = site with { Program = "sonde_http_end_ret" };
                ends.Add(site);
            }
        }
        // Go 1.27's HTTP/2 server (net/http/internal/http2) calls the handler through
        // http2Handler.ServeHTTP, whose one indirect call is the Handler interface's
        // ServeHTTP: serverHandler's, whose itab entry is serverHandler.ServeHTTP itself.
        if (exe.Functions.Find(Http2Handler) is { } h2)
        {
            var code = exe.Code(h2);
            var indirect = MachineCode.Decode(h2, code).Where(i => i.IsCallNearIndirect).ToList();
            if (indirect.Count != 1) return null;
            ulong? after = MachineCode.FirstEmulatableAfter(h2, code, indirect[0].NextIP, orReturn: true);
            if (after is null) return null;
            var site = Site(exe, "sonde_http_end", h2, code, after.Value);
            ends.Add(site.Instruction.StartsWith("ret", StringComparison.Ordinal) ? site with { Program = "sonde_http_end_ret" } : site);
        }
        return ends.Count == 0 ? null : ends;
    }

    /// <summary>Go 1.27+: where net/http's HTTP/2 server hands a request to serverHandler, through an interface.</summary>
    public const string Http2Handler = "net/http.http2Handler.ServeHTTP";

    private static ProbeSite Site(GoExecutable exe, string program, GoFunction f, ReadOnlySpan<byte> code, ulong address)
    {
        int offset = checked((int)(address - f.Entry));
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code.Slice(offset, Math.Min(15, code.Length - offset)).ToArray()), address);
        decoder.Decode(out var insn);
        var kind = MachineCode.IsEmulatedByUprobes(insn) ? ProbeKind.Emulated : ProbeKind.SingleStep;
        return new ProbeSite(program, f.Name, address, exe.FileOffsetOf(address), kind, insn.ToString());
    }
}
