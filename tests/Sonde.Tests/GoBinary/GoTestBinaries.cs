using System.Collections.Concurrent;
using System.Diagnostics;
using Sonde.GoBinary;

namespace Sonde.Tests.GoBinary;

/// <summary>
/// The Go test servers `make goservers` builds (tests/goservers/*), found in
/// $SONDE_GOSERVERS or the repository's out/goservers, each opened once and
/// shared by every test; and the tools (go, objdump) the tests check against.
/// </summary>
internal static class GoTestBinaries
{
    private static readonly ConcurrentDictionary<string, Lazy<GoExecutable>> Opened = new();

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Directory { get; } = FindDirectory();

    /// <summary>Path of a built test server: nethttp, nethttp-stripped, nethttp-pie, nethttp-static, gin, gin-stripped, demo.</summary>
    public static string PathOf(string name)
    {
        var path = Path.Combine(Directory, name);
        Assert.True(File.Exists(path), $"{path} is missing: run `make goservers` or set SONDE_GOSERVERS");
        return path;
    }

    public static GoExecutable Open(string name) =>
        Opened.GetOrAdd(name, n => new Lazy<GoExecutable>(() => GoExecutable.Open(PathOf(n)))).Value;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Makefile")) && System.IO.Directory.Exists(Path.Combine(dir.FullName, "daemon")))
                return dir.FullName;
        throw new InvalidOperationException($"no repository root above {AppContext.BaseDirectory}");
    }

    private static string FindDirectory()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("SONDE_GOSERVERS");
        return string.IsNullOrEmpty(fromEnvironment) ? Path.Combine(RepoRoot, "out", "goservers") : fromEnvironment;
    }

    /// <summary>A build cache that outlives the test run, so Go builds after the first are quick.</summary>
    public static string GoCache
    {
        get
        {
            var inRepo = Path.Combine(RepoRoot, "out", "gocache");
            return System.IO.Directory.Exists(inRepo) ? inRepo : Path.Combine(Path.GetTempPath(), "sonde-test-gocache");
        }
    }

    /// <summary>Runs a tool and returns its standard output; fails the test when it exits non-zero.</summary>
    public static string Run(string file, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var r = Support.HostCommand.Run(file, arguments, environment, workingDirectory: workingDirectory, timeout: TimeSpan.FromMinutes(2));
        Assert.True(r.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited {r.ExitCode}: {r.Stderr}");
        return r.Stdout;
    }

    /// <summary>
    /// Builds the Go program in <paramref name="directory"/> offline from
    /// Debian's packages: GOPATH mode, or module mode with no proxy.
    /// </summary>
    public static string GoBuild(string directory, string output, bool moduleMode = false, string? ldflags = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["GOCACHE"] = GoCache,
            ["GOPATH"] = "/usr/share/gocode",
            ["GO111MODULE"] = moduleMode ? "on" : "off",
            ["GOFLAGS"] = moduleMode ? "-mod=mod" : "",
            ["GOPROXY"] = "off",
        };
        var arguments = new List<string> { "build", "-o", output };
        if (ldflags is not null)
            arguments.Add("-ldflags=" + ldflags);
        arguments.Add(".");
        Run("go", arguments, directory, environment);
        return output;
    }

    /// <summary>A fresh directory under the system temporary directory, removed by the caller.</summary>
    public static string TemporaryDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "sonde-gobinary-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(path);
        return path;
    }
}
