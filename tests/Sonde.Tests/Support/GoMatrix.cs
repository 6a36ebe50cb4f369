namespace Sonde.Tests.Support;

/// <summary>
/// The Go toolchain matrix the Makefile builds the test servers with
/// (GO_MATRIX, GO_NEWEST), read from the Makefile itself so that the two
/// cannot drift. Servers of a matrix toolchain live in
/// <c>out/goservers/go1.NN/</c>; the system's Go 1.19 builds the ones at the
/// top level.
/// </summary>
public static class GoMatrix
{
    private static readonly Lazy<Dictionary<string, string>> Variables = new(() =>
        File.ReadLines(Path.Combine(Repo.Root, "Makefile"))
            .Select(l => l.Split(":=", 2))
            .Where(p => p.Length == 2 && p[0].Trim() is "GO_MATRIX" or "GO_NEWEST" or "GO_PATTERNS")
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim()));

    /// <summary>Go versions of the matrix, e.g. "1.21" ... "1.27".</summary>
    public static IReadOnlyList<string> Versions =>
        Variables.Value.TryGetValue("GO_MATRIX", out var v) ? v.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : throw new InvalidOperationException("the Makefile defines no GO_MATRIX");

    /// <summary>The versions the ServeMux-patterns server is built with (GO_PATTERNS: Request.Pattern exists).</summary>
    public static IReadOnlyList<string> PatternVersions =>
        Variables.Value.TryGetValue("GO_PATTERNS", out var v) ? v.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : throw new InvalidOperationException("the Makefile defines no GO_PATTERNS");

    /// <summary>The newest Go of the matrix, whose servers are built in every variant.</summary>
    public static string Newest =>
        Variables.Value.TryGetValue("GO_NEWEST", out var v) ? v : throw new InvalidOperationException("the Makefile defines no GO_NEWEST");

    /// <summary>A server's name as <see cref="GoServer.Start"/> takes it: "go1.27/gin-stripped".</summary>
    public static string Server(string version, string variant) => $"go{version}/{variant}";
}
