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
/// <item>outgoing calls, with the breakdown, when net/http's client is linked in
/// (<see cref="AddClient"/>): four probes that fire only for calls.</item>
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

    /// <summary>Why a router's routes, or the outgoing calls, can't be read from this binary, one line each; empty when they can.</summary>
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

    public static ProbePlan For(GoExecutable exe, EndProbeMode mode, bool breakdown = false, bool calls = false)
    {
        var serve = exe.Functions.Find(ServeHttp);
        var handleStream = exe.Functions.Find(GrpcServer.HandleStream);
        if (serve is null && handleStream is null)
            throw new TraceException($"{exe.Path} has no HTTP or gRPC server symbols: neither {ServeHttp} nor {GrpcServer.HandleStream} is in its .gopclntab (is net/http's or grpc-go's server linked in?)") { Reason = "no_http_server" };
        var sites = new List<ProbeSite>();
        EndProbeMode chosen = mode == EndProbeMode.Ret ? EndProbeMode.Ret : EndProbeMode.CallSite;
        var routers = new List<RouterUse>();
        var routeProblems = new List<string>();
        if (serve is not null)
            chosen = AddHttp(exe, serve, mode, sites, routers, routeProblems);
        bool grpcStatus = false;
        if (handleStream is not null)
            grpcStatus = AddGrpc(exe, handleStream, mode, sites);
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
        bool client = false;
        if (breakdown && calls && exe.Functions.Find(ClientRoundTrip) is not null)
        {
            var (clientSites, problem) = ClientSites(exe);
            if (clientSites is not null)
            {
                sites.AddRange(clientSites);
                client = true;
                if (problem is not null) routeProblems.Add(problem);
            }
            else routeProblems.Add($"outgoing HTTP calls will be unknown: {problem}");
        }
        return new ProbePlan(sites, chosen, routers, routeProblems)
        {
            Breakdown = breakdown, Http = serve is not null, Grpc = handleStream is not null, GrpcStatus = grpcStatus, Client = client,
        };
    }

    /// <summary>This plan without grpc-go's probes (its layout is not known); refused when nothing else is left.</summary>
    public ProbePlan WithoutGrpc()
    {
        if (!Http) throw new TraceException($"{GrpcServer.HandleStream}'s stream layout is not known and the binary serves no net/http: nothing to trace") { Reason = "unknown_grpc_layout" };
        bool isGrpc(ProbeSite s) => s.Function.StartsWith(GrpcServer.Package + ".", StringComparison.Ordinal)
            || s.Function.StartsWith(GrpcServer.Transport + ".", StringComparison.Ordinal);
        return new ProbePlan([.. Sites.Where(s => !isGrpc(s))], EndMode, Routers, RouteProblems) { Breakdown = Breakdown, Http = true, Client = Client };
    }

    /// <summary>Whether net/http's server is probed.</summary>
    public bool Http { get; private init; }
    /// <summary>Whether net/http's client is probed: the requests' outgoing calls (<see cref="ClientSites"/>).</summary>
    public bool Client { get; private init; }

    public const string ClientRoundTrip = "net/http.(*Transport).roundTrip";
    public const string ClientQueueForDial = "net/http.(*Transport).queueForDial";
    public const string ClientGetConn = "net/http.(*Transport).getConn";
    public const string ClientPersistConnRoundTrip = "net/http.(*persistConn).roundTrip";

    /// <summary>
    /// net/http's client probes (bpf/http.bpf.c, "outgoing HTTP calls"), the same in
    /// Go 1.19–1.27 (transport.go): the start at (*Transport).roundTrip's prologue jcc
    /// (req in RBX); the dial at queueForDial's (w in RBX), which getConn calls when no idle
    /// connection is there; and, in roundTrip, the first emulated instruction after
    /// its one call of getConn and its one call of (*persistConn).roundTrip, with
    /// RAX and RBX still their results (every toolchain here: <c>test rbx,rbx</c>,
    /// then the jcc on the error). They fire only for outgoing calls; the dial's
    /// (<see cref="DialSites"/>) only for new connections. Null, and why, when the
    /// code is not that shape; the sites and why, when only the dial's are missing.
    /// </summary>
    public static (List<ProbeSite>? Sites, string? Problem) ClientSites(GoExecutable exe)
    {
        ArgumentNullException.ThrowIfNull(exe);
        var sites = new List<ProbeSite>();
        GoFunction? Find(string name) => exe.Functions.Find(name);
        if (Find(ClientRoundTrip) is not { } roundTrip) return (null, $"{ClientRoundTrip} is not in the binary");
        if (Find(ClientQueueForDial) is not { } dial) return (null, $"{ClientQueueForDial} is not in the binary (inlined?)");
        var code = exe.Code(roundTrip);
        sites.Add(Site(exe, "sonde_client_start", roundTrip, code, MachineCode.ChooseEntryProbe(roundTrip, code, Register.RBX, Register.R14)));
        var dialCode = exe.Code(dial);
        sites.Add(Site(exe, "sonde_client_dial", dial, dialCode, MachineCode.ChooseEntryProbe(dial, dialCode, Register.RBX, Register.R14)));
        foreach (var (callee, program) in new[] { (ClientGetConn, "sonde_client_conn"), (ClientPersistConnRoundTrip, "sonde_client_end") })
        {
            if (Find(callee) is not { } target) return (null, $"{callee} is not in the binary (inlined?)");
            var calls = MachineCode.FindCallsTo(roundTrip, code, target.Entry);
            if (calls.Count != 1) return (null, $"{ClientRoundTrip} calls {callee} {calls.Count} times, not once");
            ulong? after = MachineCode.FirstEmulatableKeeping(roundTrip, code, calls[0] + 5, Register.RAX, Register.RBX);
            if (after is null) return (null, $"no emulated instruction follows {ClientRoundTrip}'s call of {callee} with its results intact");
            sites.Add(Site(exe, program, roundTrip, code, after.Value));
        }
        sites.AddRange(Http2ClientSites(exe));
        // A response body's Close (receiver in RAX), on the caller's goroutine: the call is over for it.
        foreach (var name in ClientBodyCloses)
            if (Find(name) is { } close && exe.Code(close) is var closeCode)
                sites.Add(Site(exe, "sonde_client_body", close, closeCode, MachineCode.ChooseEntryProbe(close, closeCode, Register.RAX, Register.R14)));
        var (dialSites, dialProblem) = DialSites(exe);
        if (dialSites is not null) sites.AddRange(dialSites);
        return (sites, dialProblem is null ? null : $"calls' dial phases will be unknown: {dialProblem}");
    }

    /// <summary>
    /// The Close of a response body net/http's client hands its caller: HTTP/1's
    /// (transport.go, every Go 1.19-1.27: *bodyEOFSignal), and its HTTP/2 client's
    /// (h2_bundle.go up to go1.26, net/http/internal/http2 in go1.27): a
    /// transportResponseBody{cs}, one pointer, so the interface holds cs itself and
    /// calls the value method with it in RAX. Those the binary has are probed.
    /// </summary>
    public static IReadOnlyList<string> ClientBodyCloses { get; } =
    [
        "net/http.(*bodyEOFSignal).Close",
        "net/http.http2transportResponseBody.Close",
        "net/http/internal/http2.transportResponseBody.Close",
    ];

    public const string DialConnFor = "net/http.(*Transport).dialConnFor";
    public const string DialConn = "net/http.(*Transport).dialConn";
    public const string AddTls = "net/http.(*persistConn).addTLS";
    public const string DialContext = "net.(*Dialer).DialContext";
    public const string ResolveAddrList = "net.(*Resolver).resolveAddrList";

    /// <summary>
    /// A new connection's phases, on the dial's own goroutine (bpf/http.bpf.c,
    /// struct dial), the same in Go 1.19-1.27: dialConnFor(t, w)'s prologue jcc
    /// (w in RBX, which queueForDial tied to the call); the first emulated
    /// instruction after net.(*Dialer).DialContext's one call of resolveAddrList
    /// (resolved); addTLS's prologue jcc (connected, the handshake begins) and the
    /// first emulated instruction after each of dialConn's calls of it (the handshake
    /// is over); and the first emulated instruction after dialConnFor's one call of
    /// dialConn (done).
    /// Null, and why, when the code is not that shape.
    /// </summary>
    public static (List<ProbeSite>? Sites, string? Problem) DialSites(GoExecutable exe)
    {
        ArgumentNullException.ThrowIfNull(exe);
        var sites = new List<ProbeSite>();
        foreach (var name in new[] { DialConnFor, DialConn, AddTls, DialContext, ResolveAddrList })
            if (exe.Functions.Find(name) is null) return (null, $"{name} is not in the binary (inlined?)");
        var dialConnFor = exe.Functions.Find(DialConnFor)!;
        var code = exe.Code(dialConnFor);
        sites.Add(Site(exe, "sonde_dial_start", dialConnFor, code, MachineCode.ChooseEntryProbe(dialConnFor, code, Register.RBX, Register.R14)));
        foreach (var (caller, callee, program) in new[] { (DialContext, ResolveAddrList, "sonde_dial_resolved"), (DialConnFor, DialConn, "sonde_dial_end") })
        {
            var f = exe.Functions.Find(caller)!;
            var fcode = exe.Code(f);
            var calls = MachineCode.FindCallsTo(f, fcode, exe.Functions.Find(callee)!.Entry);
            if (calls.Count != 1) return (null, $"{caller} calls {callee} {calls.Count} times, not once");
            if (MachineCode.FirstEmulatableAfter(f, fcode, calls[0] + 5) is not { } after)
                return (null, $"no emulated instruction follows {caller}'s call of {callee}");
            sites.Add(Site(exe, program, f, fcode, after));
        }
        var addTls = exe.Functions.Find(AddTls)!;
        var tcode = exe.Code(addTls);
        sites.Add(Site(exe, "sonde_dial_tls", addTls, tcode, MachineCode.ChooseEntryProbe(addTls, tcode, Register.R14)));
        // The handshake's end: after each of dialConn's calls of addTLS (a proxy's CONNECT, and the direct one).
        var dialConn = exe.Functions.Find(DialConn)!;
        var dcode = exe.Code(dialConn);
        var tlsCalls = MachineCode.FindCallsTo(dialConn, dcode, addTls.Entry);
        if (tlsCalls.Count == 0) return (null, $"{DialConn} calls {AddTls} nowhere");
        foreach (ulong call in tlsCalls)
        {
            if (MachineCode.FirstEmulatableAfter(dialConn, dcode, call + 5) is not { } after)
                return (null, $"no emulated instruction follows a call of {AddTls} in {DialConn}");
            sites.Add(Site(exe, "sonde_dial_tls_done", dialConn, dcode, after));
        }
        return (sites, null);
    }

    /// <summary>
    /// The function each HTTP/2 client stream's round trip runs in, on the caller's
    /// goroutine, newest first: net/http/internal/http2's (go1.27), the bundled
    /// h2_bundle.go's roundTrip (go1.23-1.26, under a RoundTrip that only calls it)
    /// and RoundTrip (go1.19-1.22).
    /// </summary>
    public static IReadOnlyList<string> Http2ClientRoundTrips { get; } =
    [
        "net/http/internal/http2.(*ClientConn).roundTrip",
        "net/http.(*http2ClientConn).roundTrip",
        "net/http.(*http2ClientConn).RoundTrip",
    ];

    /// <summary>
    /// HTTP/2 calls: their round trip ends in net/http's HTTP/2 client, not in
    /// (*persistConn).roundTrip. The stream's round trip (the first of
    /// <see cref="Http2ClientRoundTrips"/> in the binary): at its prologue jcc the
    /// call has its connection (sonde_client_h2_conn); after each call of it from
    /// net/http with an emulated instruction before its results in RAX and RBX
    /// change, its response's head (sonde_client_end; the response's StatusCode is
    /// where net/http.Response has it, which ClientPlanTests checks on each
    /// toolchain's DWARF). Empty when the binary has no HTTP/2 client.
    /// </summary>
    private static List<ProbeSite> Http2ClientSites(GoExecutable exe)
    {
        var sites = new List<ProbeSite>();
        var stream = Http2ClientRoundTrips.Select(exe.Functions.Find).FirstOrDefault(f => f is not null);
        if (stream is null) return sites;
        var code = exe.Code(stream);
        sites.Add(Site(exe, "sonde_client_h2_conn", stream, code, MachineCode.ChooseEntryProbe(stream, code, Register.R14)));
        foreach (var f in exe.Functions.Functions)
        {
            if (!f.Name.StartsWith("net/http", StringComparison.Ordinal) || f == stream) continue;
            var fcode = exe.Code(f);
            foreach (ulong call in MachineCode.FindCallsTo(f, fcode, stream.Entry))
                if (MachineCode.FirstEmulatableKeeping(f, fcode, call + 5, Register.RAX, Register.RBX) is { } after)
                    sites.Add(Site(exe, "sonde_client_end", f, fcode, after));
        }
        return sites.Count > 1 ? sites : [];
    }
    /// <summary>Whether grpc-go's server is probed (<see cref="GrpcServer"/>).</summary>
    public bool Grpc { get; private init; }
    /// <summary>Whether grpc-go's status writer is probed.</summary>
    public bool GrpcStatus { get; private init; }

    /// <summary>
    /// grpc-go's probes (<see cref="GrpcServer"/>): the start at handleStream's
    /// prologue jcc, the status writer's, and the ends after each call of
    /// handleStream, or at its RETs with --end-probe ret or where a call site has
    /// no emulated instruction after it. Returns whether the status is probed.
    /// </summary>
    private static bool AddGrpc(GoExecutable exe, GoFunction handleStream, EndProbeMode mode, List<ProbeSite> sites)
    {
        var code = exe.Code(handleStream);
        // s in RAX, t in RBX/RCX, stream in RDI, g in R14.
        sites.Add(Site(exe, "sonde_grpc_start", handleStream, code,
            MachineCode.ChooseEntryProbe(handleStream, code, Register.RAX, Register.RBX, Register.RCX, Register.RDI, Register.R14)));
        bool status = false;
        foreach (var name in GrpcServer.StatusWriters)
        {
            if (exe.Functions.Find(name) is not { } w) continue;
            var wcode = exe.Code(w);
            // t in RAX, stream in RBX, st in RCX.
            sites.Add(Site(exe, "sonde_grpc_status", w, wcode, MachineCode.ChooseEntryProbe(w, wcode, Register.RAX, Register.RBX, Register.RCX, Register.R14)));
            status = true;
        }
        List<ProbeSite>? ends = null;
        if (mode != EndProbeMode.Ret)
        {
            ends = CallSiteEndsOf(exe, handleStream, GrpcServer.Package + ".");
            if (ends is { Count: 0 }) ends = null;
            if (ends is null && mode == EndProbeMode.CallSite)
                throw new TraceException($"{exe.Path}: no call site of {GrpcServer.HandleStream} is followed by an instruction the kernel emulates; use --end-probe ret");
        }
        if (ends is null)
        {
            var rets = MachineCode.FindReturns(handleStream, code);
            if (rets.Count == 0) throw new TraceException($"{exe.Path}: {GrpcServer.HandleStream} has no RET instruction to probe");
            ends = [];
            foreach (ulong r in rets) ends.Add(Site(exe, "sonde_http_end_ret", handleStream, code, r));
        }
        sites.AddRange(ends);
        return status;
    }

    /// <summary>
    /// Every call of <paramref name="target"/> from the functions named
    /// <paramref name="prefix"/>..., each with the first emulated instruction that
    /// straight-line code reaches after it, else the closure an open-coded defer
    /// runs first (<see cref="DeferredEnd"/>), else the caller's RET (a call in tail
    /// position: only that path pays for a single-step). Null when a call site has
    /// none of them.
    /// </summary>
    private static List<ProbeSite>? CallSiteEndsOf(GoExecutable exe, GoFunction target, string prefix)
    {
        var ends = new List<ProbeSite>();
        foreach (var f in exe.Functions.Functions)
        {
            if (!f.Name.StartsWith(prefix, StringComparison.Ordinal) || f == target) continue;
            var code = exe.Code(f);
            foreach (ulong call in MachineCode.FindCallsTo(f, code, target.Entry))
            {
                ulong? after = MachineCode.FirstEmulatableAfter(f, code, call + 5, orReturn: true); // call rel32 is 5 bytes
                if (after is null) return null;
                var site = EndSite(exe, f, code, after.Value);
                if (site.Program == "sonde_http_end_ret")
                    site = DeferredEnd(exe, f, code, call + 5, after.Value) ?? site;
                ends.Add(site);
            }
        }
        return ends;
    }

    /// <summary>An end probe at <paramref name="address"/>: sonde_http_end_ret on a RET, sonde_http_end elsewhere.</summary>
    private static ProbeSite EndSite(GoExecutable exe, GoFunction f, ReadOnlySpan<byte> code, ulong address)
    {
        var site = Site(exe, "sonde_http_end", f, code, address);
        return site.Instruction.StartsWith("ret", StringComparison.Ordinal) ? site with { Program = "sonde_http_end_ret" } : site;
    }

    /// <summary>Whether <paramref name="i"/> is a RIP-relative LEA of the entry of one of <paramref name="f"/>'s closures ("f.1", "f.deferwrap1").</summary>
    private static bool TakesClosure(GoExecutable exe, GoFunction f, in Instruction i, out GoFunction? closure)
    {
        closure = null;
        if (i.Mnemonic != Mnemonic.Lea || !i.IsIPRelativeMemoryOperand) return false;
        if (exe.Functions.FindByAddress(i.IPRelativeMemoryAddress) is not { } g || g.Entry != i.IPRelativeMemoryAddress
            || !g.Name.StartsWith(f.Name + ".", StringComparison.Ordinal)) return false;
        closure = g;
        return true;
    }

    /// <summary>
    /// Where a call site reaches its function's RET only through open-coded
    /// defers (<c>defer wg.Done(); s.handleStream(...)</c>: each deferred closure
    /// called through a register, then RET), the entry probe of the closure that
    /// runs first: once, right after the call returns, on the same goroutine.
    /// Deferred calls run last-deferred first, so that is the last closure named
    /// after <paramref name="f"/> (Go 1.19: "f.1", Go 1.21+: "f.deferwrap1") whose
    /// entry <paramref name="f"/> takes with a RIP-relative LEA before the call.
    /// Null when the code is not that shape.
    /// </summary>
    private static ProbeSite? DeferredEnd(GoExecutable exe, GoFunction f, ReadOnlySpan<byte> code, ulong from, ulong ret)
    {
        var insns = MachineCode.Decode(f, code);
        if (!insns.Any(i => i.IP >= from && i.IP < ret && i.IsCallNearIndirect)) return null;
        GoFunction? last = null;
        foreach (var i in insns)
        {
            if (i.IP >= from) break;
            if (TakesClosure(exe, f, i, out var g)) last = g;
        }
        if (last is null) return null;
        var dcode = exe.Code(last);
        var site = Site(exe, "sonde_http_end", last, dcode, MachineCode.ChooseEntryProbe(last, dcode, Register.R14));
        return site.Kind == ProbeKind.Emulated ? site : null;
    }

    /// <summary>net/http's probes and the routers'; returns the end mode chosen.</summary>
    private static EndProbeMode AddHttp(GoExecutable exe, GoFunction serve, EndProbeMode mode, List<ProbeSite> sites, List<RouterUse> routers, List<string> routeProblems)
    {
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
        return chosen;
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
        var ends = CallSiteEndsOf(exe, serve, "net/http.");
        if (ends is null) return null;
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
            ends.Add(EndSite(exe, h2, code, after.Value));
        }
        if (ends.Count == 0) return null;
        // HTTP/2's handlers reach ServeHTTP through tail calls (initALPNRequest, h2c's
        // unencryptedHTTP2Request) or, in Go 1.27, an interface call followed by RET:
        // single-stepped ends, ~30 µs a request here (BENCHMARKS.md). The HTTP/2 server
        // calls every handler from runHandler, on the request's goroutine, and its
        // deferred closure runs right after: one emulated end instead, for all of them.
        if (Http2RunHandlerEnd(exe) is { } h2End)
        {
            ends.RemoveAll(e => Http2OnlyCallers.Contains(e.Function));
            ends.Add(h2End);
        }
        return ends;
    }

    /// <summary>The HTTP/2 server's runHandler(rw, req, handler): Go 1.19–1.26 (bundled), 1.27 (net/http/internal/http2).</summary>
    public static IReadOnlyList<string> Http2RunHandlers { get; } =
        ["net/http.(*http2serverConn).runHandler", "net/http/internal/http2.(*serverConn).runHandler"];

    /// <summary>The functions through which only the HTTP/2 server calls ServeHTTP.</summary>
    public static IReadOnlySet<string> Http2OnlyCallers { get; } = new HashSet<string>(StringComparer.Ordinal)
        { "net/http.initALPNRequest.ServeHTTP", "net/http.unencryptedHTTP2Request.ServeHTTP", Http2Handler };

    /// <summary>
    /// runHandler's end probe: it defers a closure, calls the handler through a
    /// register (the first indirect call after the closure's LEA), and runs the
    /// closure right after it returns (<see cref="DeferredEnd"/>). Null when its code
    /// is not that shape.
    /// </summary>
    private static ProbeSite? Http2RunHandlerEnd(GoExecutable exe)
    {
        foreach (var name in Http2RunHandlers)
        {
            if (exe.Functions.Find(name) is not { } f) continue;
            var code = exe.Code(f);
            var insns = MachineCode.Decode(f, code);
            int lea = -1;
            for (int i = 0; i < insns.Count; i++)
                if (TakesClosure(exe, f, insns[i], out _)) lea = i;
            if (lea < 0) return null;
            int handler = lea;
            while (handler < insns.Count && !insns[handler].IsCallNearIndirect) handler++;
            if (handler == insns.Count) return null;
            ulong? ret = MachineCode.FirstEmulatableAfter(f, code, insns[handler].NextIP, orReturn: true);
            if (ret is null) return null;
            return DeferredEnd(exe, f, code, insns[handler].NextIP, ret.Value);
        }
        return null;
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
