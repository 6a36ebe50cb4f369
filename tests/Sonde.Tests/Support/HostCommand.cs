using System.Diagnostics;
using Sonde.Tests.Hosting;

namespace Sonde.Tests.Support;

/// <summary>Runs a program on the host to completion, capturing what it printed.</summary>
public static class HostCommand
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/>: its exit
    /// status, standard output and standard error. <paramref name="stdin"/>,
    /// when given, is written to its standard input, which is then closed.
    /// After <paramref name="timeout"/> (default 60 s) it is killed with its
    /// children and a <see cref="TimeoutException"/> names the command.
    /// </summary>
    public static CommandResult Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        string? stdin = null, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', psi.ArgumentList)} did not finish in {limit.TotalSeconds:0} s");
        }
        return new CommandResult(p.ExitCode, stdout.Result, stderr.Result);
    }
}
