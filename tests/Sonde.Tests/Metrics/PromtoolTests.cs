using System.Diagnostics;
using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>
/// Prometheus' own linter on Sonde's text output: <c>promtool check metrics</c>
/// (Debian package <c>prometheus</c>, installed by <c>make deps</c>).
/// </summary>
public sealed class PromtoolTests
{
    [Fact]
    public void Promtool_accepts_the_daemon_exposition_without_lint_problems()
    {
        string promtool = Tools.Require("promtool");
        byte[] text = MetricsExposition.ToBytes(DaemonRegistry.Create().Collect(), ExpositionFormat.PrometheusText);

        var psi = new ProcessStartInfo(promtool, "check metrics")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        p.StandardInput.BaseStream.Write(text);
        p.StandardInput.Close();
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30_000), "promtool did not finish");
        Assert.True(p.ExitCode == 0, $"promtool check metrics exited {p.ExitCode}:\n{stdout}{stderr}\n--- input ---\n{System.Text.Encoding.UTF8.GetString(text)}");
        Assert.Equal("", (stdout + stderr).Trim());
    }
}
