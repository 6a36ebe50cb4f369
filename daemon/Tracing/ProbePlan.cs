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
/// <item>gin: github.com/gin-gonic/gin.(*Engine).handleHTTPRequest's prologue jcc,
/// for the *gin.Context whose fullPath is the route.</item>
/// </list>
/// </summary>
public sealed class ProbePlan
{
    public const string ServeHttp = "net/http.serverHandler.ServeHTTP";
    public const string GinHandle = "github.com/gin-gonic/gin.(*Engine).handleHTTPRequest";

    private ProbePlan(IReadOnlyList<ProbeSite> sites, EndProbeMode endMode, bool hasGin)
    {
        Sites = sites;
        EndMode = endMode;
        HasGin = hasGin;
    }

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
            return $"{Sites.Count} probes ({emulated} emulated, {stepped} single-stepped)";
        }
    }

    public static ProbePlan For(GoExecutable exe, EndProbeMode mode)
    {
        var serve = exe.Functions.Find(ServeHttp)
            ?? throw new TraceException($"{exe.Path} has no HTTP server symbols: {ServeHttp} is not in its .gopclntab (is net/http's server linked in?)");
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

        var gin = exe.Functions.Find(GinHandle);
        if (gin is not null)
        {
            var ginCode = exe.Code(gin);
            ulong at = MachineCode.ChooseEntryProbe(gin, ginCode, Register.RAX, Register.RBX, Register.R14);
            sites.Add(Site(exe, "sonde_gin_route", gin, ginCode, at));
        }
        return new ProbePlan(sites, chosen, gin is not null);
    }

    /// <summary>
    /// Every call of ServeHTTP from net/http (Go 1.19: (*conn).serve for HTTP/1,
    /// initALPNRequest.ServeHTTP for HTTP/2), each with the first emulated
    /// instruction after it; null if any call site has none.
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
                ulong? after = MachineCode.FirstEmulatableAfter(f, code, call + 5); // call rel32 is 5 bytes
                if (after is null) return null;
                ends.Add(Site(exe, "sonde_http_end", f, code, after.Value));
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
