namespace Sonde.Tests.Hosting;

/// <summary>The test fixture itself: a booted systemd that leaves the machine as it found it.</summary>
[Collection(Support.KernelCollection.Name)]
public sealed class SystemdNamespaceTests
{
    [SystemdFact]
    public void Teardown_leaves_nothing_behind()
    {
        var journalBefore = Snapshot("/var/log/journal");
        var varLibBefore = Snapshot("/var/lib");
        var varTmpBefore = Snapshot("/var/tmp");

        var ns = SystemdNamespace.Start();
        string pidNamespace = ns.PidNamespace;
        SondeUnit unit;
        try
        {
            Assert.NotEmpty(SystemdNamespace.ProcessesIn(pidNamespace));
            Assert.Contains(ns.Systemctl("is-system-running").Stdout.Trim(), new[] { "running", "degraded" });
            // A unit with DynamicUser, PrivateTmp and StateDirectory: the kinds of state systemd leaves on disk.
            unit = new SondeUnit(ns, "teardown", """{"targets":[{"port":8080}]}""");
            Assert.Equal(0, unit.Systemctl("start").ExitCode);
            Assert.Equal("active", unit.Show("ActiveState"));
        }
        finally { ns.Dispose(); }
        Directory.Delete(unit.Directory, true);

        Assert.Empty(ns.Leftovers);
        Assert.Empty(SystemdNamespace.ProcessesIn(pidNamespace));
        Assert.DoesNotContain(SystemdNamespace.CgroupDirectories(), d => d.Contains(ns.Id, StringComparison.Ordinal));
        Assert.Equal(journalBefore, Snapshot("/var/log/journal"));
        Assert.Equal(varLibBefore, Snapshot("/var/lib"));
        Assert.Equal(varTmpBefore, Snapshot("/var/tmp"));
    }

    /// <summary>A directory's entries and its inode change time, which moves when its ACL does (journald sets one).</summary>
    private static string Snapshot(string dir)
    {
        if (!Directory.Exists(dir)) return "";
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/stat") { RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("%Z");
        psi.ArgumentList.Add(dir);
        using var p = System.Diagnostics.Process.Start(psi)!;
        string ctime = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return ctime + "\n" + string.Join("\n", Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal));
    }
}
