using System.Diagnostics;
using Sonde.Tests.Support;

namespace Sonde.Tests.Hosting;

/// <summary>
/// The sonde executable these tests were built with: the apphost `dotnet
/// test` copies next to the test assembly (always current), else `make`'s
/// out/sonde.
/// </summary>
public static class BuiltSonde
{
    public static string Path
    {
        get
        {
            string local = System.IO.Path.Combine(AppContext.BaseDirectory, "sonde");
            return File.Exists(local) && File.Exists(local + ".runtimeconfig.json") ? local : Repo.Sonde;
        }
    }

    /// <summary>Runs it to completion with extra environment variables.</summary>
    public static CommandResult Run(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo(Path) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill();
            throw new TimeoutException("sonde " + string.Join(' ', args) + " did not finish");
        }
        return new CommandResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static CommandResult Run(params string[] args) => Run(null, args);
}
