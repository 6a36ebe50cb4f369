namespace Sonde.Tests.Support;

/// <summary>Paths of the repository and of what `make` built in it.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>Go test servers built by `make goservers` (SONDE_GOSERVERS overrides).</summary>
    public static string GoServers => Environment.GetEnvironmentVariable("SONDE_GOSERVERS") is { Length: > 0 } d
        ? d : Path.Combine(Root, "out", "goservers");

    public static string GoServer(string name)
    {
        var p = Path.Combine(GoServers, name);
        if (!File.Exists(p)) throw new FileNotFoundException($"Go test server {p} is missing: run `make goservers`");
        return p;
    }

    /// <summary>The published sonde executable (`make`).</summary>
    public static string Sonde
    {
        get
        {
            var p = Path.Combine(Root, "out", "sonde");
            if (!File.Exists(p)) throw new FileNotFoundException($"{p} is missing: run `make`");
            return p;
        }
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Makefile")) && Directory.Exists(Path.Combine(d.FullName, "bpf")))
                return d.FullName;
        throw new InvalidOperationException("cannot find the repository root above " + AppContext.BaseDirectory);
    }
}
