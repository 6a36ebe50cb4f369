using System.Diagnostics;
using Sonde.Tests.Support;

namespace Sonde.Tests.Hosting;

/// <summary>packaging/sonde.service as systemd's own checker sees it.</summary>
public sealed class UnitFileTests
{
    private static string UnitText => File.ReadAllText(Path.Combine(Repo.Root, "packaging", "sonde.service"));

    [Fact]
    public void Passes_systemd_analyze_verify()
    {
        if (!File.Exists("/usr/bin/systemd-analyze")) Assert.Fail("needs systemd-analyze: apt-get install systemd");
        string dir = Directory.CreateTempSubdirectory("sonde-unit").FullName;
        try
        {
            // /usr/bin/sonde exists only once the .deb is installed: point ExecStart at this build.
            string unit = Path.Combine(dir, "sonde.service");
            File.WriteAllText(unit, UnitText.Replace("ExecStart=/usr/bin/sonde ", $"ExecStart={BuiltSonde.Path} "));
            var (code, output) = Verify(unit);
            Assert.True(code == 0 && output.Length == 0, $"systemd-analyze verify: exit {code}\n{output}");

            // As shipped, the only complaint is the binary that is not installed here.
            File.WriteAllText(unit, UnitText);
            (code, output) = Verify(unit);
            if (!File.Exists("/usr/bin/sonde"))
                Assert.Equal("sonde.service: Command /usr/bin/sonde is not executable: No such file or directory", output.Trim());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Says_what_each_hardening_line_is_for()
    {
        var lines = UnitText.Split('\n');
        foreach (var key in new[] { "Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "WatchdogSignal=SIGKILL", "Restart=on-failure",
                     "RestartPreventExitStatus=78", "DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only",
                     "PrivateTmp=yes", "PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectControlGroups=yes",
                     "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "MemoryDenyWriteExecute=no", "SystemCallArchitectures=native",
                     "LockPersonality=yes", "StateDirectory=sonde", "ExecReload=/bin/kill -HUP $MAINPID",
                     "ExecStart=/usr/bin/sonde run --config /etc/sonde/sonde.json" })
            Assert.Contains(key, lines);
        string caps = "CAP_SYS_ADMIN CAP_BPF CAP_PERFMON CAP_SYS_PTRACE CAP_DAC_READ_SEARCH";
        Assert.Contains($"CapabilityBoundingSet={caps}", lines);
        Assert.Contains($"AmbientCapabilities={caps}", lines);
        foreach (var cap in caps.Split(' '))
            Assert.Contains(lines, l => l.StartsWith('#') && l.Contains(cap));   // every capability is justified
        Assert.DoesNotContain(lines, l => l.StartsWith("ProtectProc=", StringComparison.Ordinal));   // "invisible" would hide the targets
    }

    private static (int Code, string Output) Verify(string unit)
    {
        var psi = new ProcessStartInfo("/usr/bin/systemd-analyze") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add("verify");
        // Documentation=man:sonde(1) exists once the package is installed;
        // DebianPackageInstallTests verifies the installed unit with it.
        psi.ArgumentList.Add("--man=no");
        psi.ArgumentList.Add(unit);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}
