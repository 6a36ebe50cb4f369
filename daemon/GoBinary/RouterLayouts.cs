namespace Sonde.GoBinary;

/// <summary>
/// The field offsets Sonde reads in each router's structures (linux/amd64),
/// for binaries without DWARF. They don't depend on the Go version (no field
/// before them changes size with it), only on the router's, which a module-mode
/// build names in .go.buildinfo. A GOPATH-mode build (Debian's packages) names
/// none: then the binary's own code must show the offset (StructOffsets), and
/// the BPF side takes a route only if it reads as one (it starts with '/').
/// <para>
/// Read from each router's source at every tag listed (the struct definitions,
/// amd64 sizes: pointer 8, string 16, slice 24, interface 16). RouterLayoutTests
/// hold them against the DWARF of the test servers built from Debian's packages
/// (tests/goservers/{echo,chi,gorillamux}).
/// </para>
/// </summary>
public static class RouterLayouts
{
    // github.com/labstack/echo/v4, context.go, type context struct:
    //   v4.0.0–v4.11.4: request *http.Request 0, response *Response 8, path string 16.
    //   v4.12.0: request 0, response 8, query url.Values 16, echo *Echo 24,
    //     logger Logger 32, store Map 48, lock sync.RWMutex 56 (24 bytes), path 80.
    //   v4.13.0–v4.15.4: logger 0, request 16, response 24, query 32, echo 40,
    //     store 48, lock 56, handler HandlerFunc 80, path 88.
    // echo.go: (*Echo).ServeHTTP ends with e.pool.Put(c), not deferred, at every v4 tag.
    // router.go: when no route matches, Find leaves the request's own path in
    // ctx.path up to v4.10.0, "" from v4.10.1 (the BPF side drops the former).

    /// <summary>echo.context.path for v4.0.0–v4.11.4.</summary>
    public const int EchoContextPathBefore412 = 16;

    /// <summary>The offset of echo.context.path (string) in an echo v4 release, or null for another version or none.</summary>
    public static int? EchoContextPath(string? version) => Minor(version, 4) switch
    {
        null => null,
        var (minor, _) when minor <= 11 => EchoContextPathBefore412,
        (12, _) => 80,
        var (minor, _) when minor <= 15 => 88,
        _ => null,
    };

    // github.com/go-chi/chi/v5, context.go, type Context struct:
    //   v5.0.0: Routes Routes 0, RoutePath string 16, RouteMethod string 32, RoutePatterns []string 48.
    //   v5.0.1–v5.3.2: Routes 0, parentCtx context.Context 16, RoutePath 32,
    //     RouteMethod 48, URLParams RouteParams (Keys, Values []string) 64,
    //     routeParams RouteParams 112, routePattern string 160, RoutePatterns []string 176.
    // mux.go: (*Mux).ServeHTTP ends with mx.handler.ServeHTTP(w, r); mx.pool.Put(rctx)
    // at every v5 tag; a sub-router (context already there) returns before Put.

    /// <summary>The RoutePatterns offsets of the chi layouts above, newest first.</summary>
    public static IReadOnlyList<int> ChiLayouts { get; } = [176, 48];

    /// <summary>The offset of chi.Context.RoutePatterns ([]string) in a chi v5 release, or null for another version or none.</summary>
    public static int? ChiContextRoutePatterns(string? version) => Minor(version, 5) switch
    {
        (0, 0) => 48,
        var (minor, _) when minor <= 3 => 176,
        _ => null,
    };

    // github.com/gorilla/mux, v1.7.0–v1.8.1: route.go, type Route struct: handler
    // http.Handler 0, buildOnly bool 16, name string 24, err error 40, namedRoutes
    // map 56, routeConf (embedded) 64; mux.go, type routeConf struct: three bools
    // 0-2, regexp routeRegexpGroup 8; regexp.go, type routeRegexpGroup struct: host
    // *routeRegexp 0, path *routeRegexp 8; type routeRegexp struct: template string 0.
    // So Route → 64 + 8 + 8 = 80. (*Router).ServeHTTP calls
    // requestWithRoute(req, match.Route) from v1.7.4 (setCurrentRoute, inlined, before).

    /// <summary>gorilla/mux v1.7.4–v1.8.1: the offset in Route of routeConf.regexp.path (*routeRegexp), and of template (string) in routeRegexp.</summary>
    public static (int RegexpPath, int Template) MuxRoute => (80, 0);

    /// <summary>
    /// (minor, patch) of a release "vMAJOR.minor.patch" (the "v" optional) when MAJOR is
    /// <paramref name="major"/>. A pre-release or pseudo-version ("v5.0.8-0.2021…", a
    /// commit before v5.0.8) is no release: null, and the code decides.
    /// </summary>
    private static (int Minor, int Patch)? Minor(string? version, int major)
    {
        if (version is null) return null;
        var v = version.Trim().TrimStart('v');
        if (v.IndexOfAny(['-', '+']) >= 0) return null;
        var parts = v.Split('.');
        return parts.Length == 3 && int.TryParse(parts[0], out int ma) && ma == major
            && int.TryParse(parts[1], out int mi) && int.TryParse(parts[2], out int pa) ? (mi, pa) : null;
    }
}
