using Sonde.GoBinary;

namespace Sonde.Tracing;

/// <summary>The routers Sonde reads route templates from (besides net/http's ServeMux patterns).</summary>
public enum RouterKind { Gin, Echo, Chi, GorillaMux }

/// <summary>
/// Where each router keeps the route that matched and where Sonde reads it:
/// at a call the kernel emulates inside the router's ServeHTTP, by one BPF
/// program of bpf/http.bpf.c.
/// <list type="bullet">
/// <item>gin, echo, chi: the <c>call sync.(*Pool).Put</c> that returns the router's
/// context to its pool once the handler chain is done. The context (Put's
/// <c>x.data</c>, RCX) still holds this request's route there; after Put another
/// goroutine may take it and reset it.</item>
/// <item>gorilla/mux: the <c>call requestWithRoute(req, match.Route)</c> (route in
/// RBX), made once a route matched; the Route lives as long as the router.</item>
/// </list>
/// One probe hit per request that reaches the router.
/// </summary>
/// <param name="Name">How the attach line and README name it.</param>
/// <param name="Packages">Its package paths: the module's (what .go.buildinfo names, with
/// a major-version suffix where it has one) and the GOPATH one Debian's packages build as.</param>
/// <param name="Serve">The method, after the package path, whose code holds the probed call.</param>
/// <param name="Call">The function whose call is probed (a full name, or one after the package path when it starts with '.').</param>
/// <param name="Program">The BPF program.</param>
public sealed record Router(RouterKind Kind, string Name, string[] Packages, string Serve, string Call, string Program)
{
    public const string PoolPut = "sync.(*Pool).Put";

    public static IReadOnlyList<Router> All { get; } =
    [
        new(RouterKind.Gin, "gin", [StructOffsets.GinModule], ".(*Engine).ServeHTTP", PoolPut, "sonde_gin_route"),
        new(RouterKind.Echo, "echo", ["github.com/labstack/echo/v4", "github.com/labstack/echo"], ".(*Echo).ServeHTTP", PoolPut, "sonde_echo_route"),
        new(RouterKind.Chi, "chi", ["github.com/go-chi/chi/v5", "github.com/go-chi/chi"], ".(*Mux).ServeHTTP", PoolPut, "sonde_chi_route"),
        new(RouterKind.GorillaMux, "gorilla/mux", ["github.com/gorilla/mux"], ".(*Router).ServeHTTP", ".requestWithRoute", "sonde_mux_route"),
    ];

    /// <summary>The BPF programs of all routers.</summary>
    public static IEnumerable<string> Programs => All.Select(r => r.Program);

    /// <summary>The package path this binary links the router under, with its ServeHTTP; null if it doesn't.</summary>
    public (string Package, GoFunction Serve)? FindIn(GoExecutable exe)
    {
        ArgumentNullException.ThrowIfNull(exe);
        foreach (var p in Packages)
            if (exe.Functions.Find(p + Serve) is { } f)
                return (p, f);
        return null;
    }

    /// <summary>The module version .go.buildinfo records for the router ("v5.0.7"), or null (GOPATH builds record none).</summary>
    public string? ModuleVersion(GoExecutable exe, string package)
    {
        ArgumentNullException.ThrowIfNull(exe);
        return exe.BuildInfo.Modules.TryGetValue(package, out var v) ? v : null;
    }

    /// <summary>The full name of the function whose call is probed, for a package path.</summary>
    public string CallIn(string package) => Call.StartsWith('.') ? package + Call : Call;
}
