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
/// <item>gin: in github.com/gin-gonic/gin.(*Engine).ServeHTTP, the
/// <c>call sync.(*Pool).Put</c> right after handleHTTPRequest returns, where the
/// *gin.Context (RCX) still holds this request's fullPath: after Put, another
/// goroutine may take the Context and reset it.</item>
/// </list>
/// </summary>
public sealed class ProbePlan
{
    public const string ServeHttp = "net/http.serverHandler.ServeHTTP";
    public const string GinServe = "github.com/gin-gonic/gin.(*Engine).ServeHTTP";
    public const string GinHandle = "github.com/gin-gonic/gin.(*Engine).handleHTTPRequest";
    public const string PoolPut = "sync.(*Pool).Put";

    private ProbePlan(IReadOnlyList<ProbeSite> sites, EndProbeMode endMode, bool hasGin, string? routeProblem)
    {
        Sites = sites;
        EndMode = endMode;
        HasGin = hasGin;
        RouteProblem = routeProblem;
    }

    /// <summary>Whether the Go scheduler probes for the breakdown are part of the plan.</summary>
    public bool Breakdown { get; private init; }

    /// <summary>Why Gin's routes can't be read from this binary; null when they can (or there's no Gin).</summary>
    public string? RouteProblem { get; }

    public IReadOnlyList<ProbeSite> Sites { get; }
    /// <summary>CallSite or Ret: what was chosen.</summary>
    public EndProbeMode EndMode { get; }
    public bool HasGin { get; }

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

        var (ginSite, routeProblem) = GinRouteSite(exe);
        if (ginSite is not null) sites.Add(ginSite);
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
        return new ProbePlan(sites, chosen, ginSite is not null, routeProblem) { Breakdown = breakdown };
    }

    /// <summary>The gin route probe, or why there is none (null, null: no Gin in the binary).</summary>
    private static (ProbeSite? Site, string? Problem) GinRouteSite(GoExecutable exe)
    {
        var serve = exe.Functions.Find(GinServe);
        var handle = exe.Functions.Find(GinHandle);
        if (serve is null || handle is null) return (null, null);
        var put = exe.Functions.Find(PoolPut);
        var code = exe.Code(serve);
        var calls = MachineCode.FindCallsTo(serve, code, handle.Entry);
        if (calls.Count != 1 || put is null)
            return (null, $"{GinServe} does not call {GinHandle} once ({calls.Count} calls)");
        // The first call after handleHTTPRequest returns, with only straight-line code before it
        // (Go 1.27 pads it with a 2-byte NOP); the call itself is emulated, and RCX holds the
        // *gin.Context there (Put's x.data).
        var insn = MachineCode.Decode(serve, code).SkipWhile(i => i.IP < calls[0] + 5)
            .FirstOrDefault(i => i.FlowControl != Iced.Intel.FlowControl.Next || i.IsCallNear);
        if (!insn.IsCallNear || insn.NearBranchTarget != put.Entry)
            return (null, $"the code after {GinHandle} returns is not the expected call of {PoolPut}");
        return (Site(exe, "sonde_gin_route", serve, code, insn.IP), null);
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
        return ends.Count == 0 ? null : ends;
    }

    private static ProbeSite Site(GoExecutable exe, string program, GoFunction f, ReadOnlySpan<byte> code, ulong address)
    {
        int offset = checked((int)(address - f.Entry));
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code.Slice(offset, Math.Min(15, code.Length - offset)).ToArray()), address);
        decoder.Decode(out var insn);
        var kind = MachineCode.IsEmulatedByUprobes(insn) ? ProbeKind.Emulated : ProbeKind.SingleStep;
        return new ProbeSite(program, f.Name, address, exe.FileOffsetOf(address), kind, insn.ToString());
    }
}
