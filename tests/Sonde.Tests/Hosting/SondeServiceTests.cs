using System.Diagnostics;
using Sonde.Interop.LibC;

namespace Sonde.Tests.Hosting;

/// <summary>
/// `sonde run` under a real systemd, through packaging/sonde.service with all
/// its hardening (DynamicUser, capability set, system call filter...), with
/// the scripted pipeline standing in for tracing.
/// </summary>
[Collection(Support.KernelCollection.Name)]   // one systemd at a time: they share the machine's cgroup tree
public sealed class SondeServiceTests(SystemdFixture systemd) : IClassFixture<SystemdFixture>
{
    private SystemdNamespace Ns => systemd.Namespace;

    private static long MonotonicUs() => (long)(Clock.MonotonicNs() / 1000);

    [SystemdFact]
    public void Start_returns_only_after_READY_and_status_shows_the_pipelines_line()
    {
        using var unit = new SondeUnit(Ns, "start", """{"targets":[{"port":8080}],"metrics":{"listen":"127.0.0.1:9501"}}""", readyDelayMs: 1500);
        long before = MonotonicUs();
        var start = unit.Systemctl("start");
        long after = MonotonicUs();
        Assert.True(start.ExitCode == 0, start.Stderr);

        var events = unit.Events();
        var (_, startedAt, _) = events.Single(e => e.Event == "start");
        var (_, readyAt, _) = events.Single(e => e.Event == "ready");
        Assert.InRange(readyAt - startedAt, 1_400_000, 10_000_000);   // the pipeline took its 1.5 s
        Assert.InRange(readyAt, before, after);                        // and systemctl start waited for it
        Assert.True(long.Parse(unit.Show("ActiveEnterTimestampMonotonic")) >= readyAt, "active before READY");
        Assert.Equal("active", unit.Show("ActiveState"));
        Assert.Equal("running", unit.Show("SubState"));

        string expected = "fake pipeline: 1 targets, listen 127.0.0.1:9501, heartbeat ";
        Assert.StartsWith(expected, unit.Show("StatusText"));
        var status = Ns.Systemctl("status", unit.Name);
        Assert.Contains($"Status: \"{expected}", status.Stdout);
        Assert.Contains("active (running)", status.Stdout);
    }

    [SystemdFact]
    public void Journal_entries_carry_syslog_priorities_and_structured_fields()
    {
        using var unit = new SondeUnit(Ns, "journal", """{"targets":[{"port":8080}]}""");
        Assert.Equal(0, unit.Systemctl("start").ExitCode);
        int mainPid = int.Parse(unit.Show("MainPID"));
        var entries = unit.WaitFor(() => unit.Journal() is var j && j.Any(e => e.GetValueOrDefault("SONDE_EVENT") == "Ready") ? j : null, "the Ready entry");
        Dictionary<string, string> Entry(string evt) => entries.Single(e => e.GetValueOrDefault("SONDE_EVENT") == evt);

        Assert.Equal("6", Entry("Ready")["PRIORITY"]);
        Assert.Equal("4", Entry("FakeWarning")["PRIORITY"]);
        Assert.Equal("3", Entry("FakeError")["PRIORITY"]);
        var attached = Entry("FakeAttached");
        Assert.Equal("6", attached["PRIORITY"]);
        Assert.Equal(mainPid.ToString(), attached["SONDE_TARGET_PID"]);
        Assert.Equal("1", attached["SONDE_TARGET_COUNT"]);
        Assert.Equal("journal", attached["_TRANSPORT"]);   // the native protocol, not the stderr stream
        Assert.Equal("sonde", attached["SYSLOG_IDENTIFIER"]);
        // CODE_FILE names the source file of the logging type, one that exists.
        Assert.StartsWith("daemon/Hosting/", Entry("Ready")["CODE_FILE"]);
        Assert.True(File.Exists(Path.Combine(Support.Repo.Root, Entry("Ready")["CODE_FILE"])), Entry("Ready")["CODE_FILE"]);
        Assert.Equal(unit.Name, attached["_SYSTEMD_UNIT"]);
        Assert.DoesNotContain(entries, e => e.GetValueOrDefault("SONDE_EVENT") == "FakeStarting");   // debug, below "information"

        // A reload to log.level=debug lets debug entries through (PRIORITY 7).
        File.WriteAllText(unit.ConfigPath, """{"targets":[{"port":8080}],"log":{"level":"debug"}}""");
        Assert.Equal(0, unit.Systemctl("reload").ExitCode);
        var debug = unit.WaitFor(() => unit.Journal().FirstOrDefault(e => e.GetValueOrDefault("SONDE_EVENT") == "FakeReloading"), "a debug entry");
        Assert.Equal("7", debug["PRIORITY"]);
    }

    [SystemdFact]
    public void Without_the_native_socket_priorities_travel_as_line_prefixes()
    {
        using var unit = new SondeUnit(Ns, "prefix", """{"targets":[{"port":8080}]}""", "InaccessiblePaths=/run/systemd/journal/socket");
        Assert.Equal(0, unit.Systemctl("start").ExitCode);
        var entries = unit.WaitFor(() => unit.Journal() is var j && j.Any(e => e.GetValueOrDefault("MESSAGE", "").StartsWith("ready:", StringComparison.Ordinal)) ? j : null, "the ready line");
        var warning = entries.Single(e => e.GetValueOrDefault("MESSAGE") == "fake pipeline: sample warning entry");
        Assert.Equal("4", warning["PRIORITY"]);
        Assert.Equal("stdout", warning["_TRANSPORT"]);
        Assert.Equal("3", entries.Single(e => e.GetValueOrDefault("MESSAGE") == "fake pipeline: sample error entry")["PRIORITY"]);
        Assert.Equal("6", entries.First(e => e.GetValueOrDefault("MESSAGE", "").StartsWith("ready:", StringComparison.Ordinal))["PRIORITY"]);
    }

    [SystemdFact]
    public void Reload_goes_RELOADING_then_READY_and_applies_the_new_config()
    {
        using var unit = new SondeUnit(Ns, "reload", """{"targets":[{"port":8080}],"metrics":{"listen":"127.0.0.1:9501"}}""");
        Assert.Equal(0, unit.Systemctl("start").ExitCode);
        string pid = unit.Show("MainPID");
        unit.Touch("reload-delay-ms", "1000");
        File.WriteAllText(unit.ConfigPath, """{"targets":[{"port":8080},{"unit":"shop"}],"metrics":{"listen":"127.0.0.1:9502"}}""");

        // RELOADING=1 puts the unit in "reloading" until READY=1. Whether
        // `systemctl reload` waits for that depends on a race: the job ends
        // when `kill -HUP` exits, unless RELOADING=1 arrived first (systemd 252's
        // service_enter_running then stays in the reload). So watch the state
        // from the side while the reload runs.
        var states = new List<string>();
        using var watching = new CancellationTokenSource();
        var watcher = Task.Run(() =>
        {
            while (!watching.IsCancellationRequested) lock (states) states.Add(unit.Show("ActiveState"));
        });
        Assert.Equal(0, unit.Systemctl("reload").ExitCode);
        unit.WaitFor(() => unit.Events().Any(e => e.Event == "reload"), "the pipeline's reload");
        unit.WaitFor(() => unit.Show("ActiveState") == "active", "ActiveState=active again");
        watching.Cancel();
        watcher.Wait();
        Assert.Contains("reloading", states);
        Assert.Contains(unit.Events(), e => e.Event == "reload" && e.Details.Contains("listen=127.0.0.1:9502"));
        Assert.StartsWith("fake pipeline: 2 targets, listen 127.0.0.1:9502", unit.Show("StatusText"));
        Assert.Equal(pid, unit.Show("MainPID"));
        unit.WaitFor(() => unit.Journal().Any(e => e.GetValueOrDefault("SONDE_EVENT") == "Reloaded"), "the Reloaded entry");
    }

    [SystemdFact]
    public void A_broken_config_on_reload_is_logged_and_the_old_one_kept()
    {
        using var unit = new SondeUnit(Ns, "badreload", """{"targets":[{"port":8080}],"metrics":{"listen":"127.0.0.1:9501"}}""");
        Assert.Equal(0, unit.Systemctl("start").ExitCode);
        string pid = unit.Show("MainPID");
        File.WriteAllText(unit.ConfigPath, """{"targets":[{"port":80800}],"metrics":{"listen":"127.0.0.1:9502"}}""");
        Assert.Equal(0, unit.Systemctl("reload").ExitCode);

        var rejected = unit.WaitFor(() => unit.Journal().FirstOrDefault(e => e.GetValueOrDefault("SONDE_EVENT") == "ReloadRejected"), "the rejection");
        Assert.Equal("3", rejected["PRIORITY"]);
        Assert.Contains("targets[0].port: must be 1..65535, got 80800", rejected["MESSAGE"]);
        unit.WaitFor(() => unit.Show("StatusText").Contains("last reload rejected"), "the status note");
        Assert.Contains("listen 127.0.0.1:9501", unit.Show("StatusText"));
        Assert.Equal("active", unit.Show("ActiveState"));
        Assert.Equal(pid, unit.Show("MainPID"));
        Assert.DoesNotContain(unit.Events(), e => e.Event == "reload");
    }

    [SystemdFact]
    public void A_frozen_heartbeat_gets_the_unit_restarted_by_the_watchdog()
    {
        using var unit = new SondeUnit(Ns, "watchdog", """{"targets":[{"port":8080}]}""");
        Assert.Equal(0, unit.Systemctl("start").ExitCode);
        string firstPid = unit.Show("MainPID");
        Thread.Sleep(1200);   // alive and fed past a whole WatchdogSec/2
        Assert.Equal("0", unit.Show("NRestarts"));

        var sw = Stopwatch.StartNew();
        unit.Touch("freeze");
        unit.WaitFor(() => unit.Show("NRestarts") != "0", "a restart", seconds: 15);
        var restartedAfter = sw.Elapsed;
        unit.Remove("freeze");
        Assert.InRange(restartedAfter.TotalSeconds, 1.5, 8);

        unit.WaitFor(() => unit.Show("ActiveState") == "active", "active again");
        Assert.NotEqual(firstPid, unit.Show("MainPID"));
        var all = unit.Journal(includeSystemd: true);
        var stalled = all.First(e => e.GetValueOrDefault("SONDE_EVENT") == "HeartbeatStalled");
        Assert.Equal("4", stalled["PRIORITY"]);
        Assert.Contains(all, e => e.GetValueOrDefault("MESSAGE", "").Contains("Watchdog timeout"));
    }

    [SystemdFact]
    public void Stop_is_STOPPING_then_a_clean_exit()
    {
        using var unit = new SondeUnit(Ns, "stop", """{"targets":[{"port":8080}]}""");
        Assert.Equal(0, unit.Systemctl("start").ExitCode);
        var sw = Stopwatch.StartNew();
        Assert.Equal(0, unit.Systemctl("stop").ExitCode);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"stop took {sw.Elapsed}");
        Assert.Equal("inactive", unit.Show("ActiveState"));
        Assert.Equal("success", unit.Show("Result"));
        Assert.Equal("0", unit.Show("ExecMainStatus"));
        Assert.Equal("stop", unit.Events()[^1].Event);
        var entries = unit.Journal();
        int stopping = entries.FindIndex(e => e.GetValueOrDefault("SONDE_EVENT") == "Stopping");
        int stopped = entries.FindIndex(e => e.GetValueOrDefault("SONDE_EVENT") == "Stopped");
        Assert.True(stopping >= 0 && stopped > stopping, "Stopping, then Stopped");
        Assert.Contains(entries, e => e.GetValueOrDefault("MESSAGE") == "SIGTERM received: stopping");
    }

    [SystemdFact]
    public void An_invalid_config_at_start_fails_once_without_restart_loops()
    {
        using var unit = new SondeUnit(Ns, "badstart", """{"targets":[{"port":0}]}""");
        Assert.NotEqual(0, unit.Systemctl("start").ExitCode);
        Assert.Equal("78", unit.Show("ExecMainStatus"));
        Thread.Sleep(500);   // RestartSec=100ms: a restart would have happened
        Assert.Equal("0", unit.Show("NRestarts"));
        Assert.Equal("failed", unit.Show("ActiveState"));
        Assert.Contains("invalid configuration: targets[0].port: must be 1..65535, got 0", unit.Show("StatusText"));
        var error = unit.Journal().Single(e => e.GetValueOrDefault("MESSAGE", "").Contains("targets[0].port"));
        Assert.Equal("3", error["PRIORITY"]);   // the <3> prefix of an error before logging is set up
    }

    [SystemdFact]
    public void A_pipeline_that_cannot_start_fails_the_start()
    {
        using var unit = new SondeUnit(Ns, "failstart", """{"targets":[{"port":8080}]}""", "Restart=no");
        unit.Touch("fail-start", "no such process: pid 4242");
        Assert.NotEqual(0, unit.Systemctl("start").ExitCode);
        Assert.Equal("1", unit.Show("ExecMainStatus"));
        Assert.Equal("failed to start: no such process: pid 4242", unit.Show("StatusText"));
        var critical = unit.Journal().Single(e => e.GetValueOrDefault("SONDE_EVENT") == "StartFailed");
        Assert.Equal("2", critical["PRIORITY"]);
        Assert.DoesNotContain(unit.Events(), e => e.Event == "ready");
    }

    [SystemdFact]
    public void MemoryDenyWriteExecute_would_kill_dotnet_at_start()
    {
        // Why the unit says MemoryDenyWriteExecute=no: .NET's JIT needs executable mappings it wrote.
        string sonde = BuiltSonde.Path;
        string name = $"sonde-{Ns.Id}-mdwe";
        var r = Ns.Run("systemd-run", "--unit", name, "-p", "MemoryDenyWriteExecute=yes", "-p", "SystemCallArchitectures=native", sonde, "version");
        Assert.Equal(0, r.ExitCode);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Ns.Show(name + ".service", "ActiveState") is "active" or "activating" && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.Equal("signal", Ns.Show(name + ".service", "Result"));
        Assert.Equal("11", Ns.Show(name + ".service", "ExecMainStatus"));   // SIGSEGV
        Ns.Systemctl("reset-failed", name + ".service");
    }
}
