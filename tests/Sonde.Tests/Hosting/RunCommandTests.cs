namespace Sonde.Tests.Hosting;

/// <summary>`sonde run` from a shell: usage, a missing or broken config, signals.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sonde-run").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void A_missing_config_exits_78_and_says_what_to_do()
    {
        string path = Path.Combine(_dir, "none.json");
        var r = BuiltSonde.Run("run", "--config", path);
        Assert.Equal(78, r.ExitCode);
        Assert.Equal($"sonde: {path}: no such file (pass the path of an existing file to --config)", r.Stderr.Trim());
    }

    [Fact]
    public void An_invalid_config_exits_78_naming_the_key()
    {
        string path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, """{"tracing":{"ringbuf_mib":3}}""");
        var r = BuiltSonde.Run("run", "--config", path);
        Assert.Equal(78, r.ExitCode);
        Assert.Contains("tracing.ringbuf_mib: must be a power of two", r.Stderr);
    }

    [Fact]
    public void Usage_errors_exit_2()
    {
        Assert.Equal(2, BuiltSonde.Run("run", "--frobnicate").ExitCode);
        Assert.Equal(2, BuiltSonde.Run("run", "sonde.json").ExitCode);
        // A hidden option is an unknown one: the product has no test switches.
        Assert.Equal(2, BuiltSonde.Run("run", "--fake-pipeline", _dir).ExitCode);
        Assert.Equal(2, Support.HostCommand.Run(BuiltSonde.TestHostPath, ["run", "--script", Path.Combine(_dir, "nope")], null).ExitCode);
        var help = BuiltSonde.Run("run", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--config FILE", help.Stdout);
    }

    [Fact]
    public async Task SIGHUP_reloads_and_SIGTERM_stops_cleanly_outside_systemd()
    {
        string config = Path.Combine(_dir, "sonde.json");
        File.WriteAllText(config, """{"metrics":{"listen":"127.0.0.1:9601"}}""");
        var psi = new System.Diagnostics.ProcessStartInfo(BuiltSonde.TestHostPath) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "run", "--config", config, "--script", _dir }) psi.ArgumentList.Add(a);
        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("JOURNAL_STREAM");
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string events = Path.Combine(_dir, "events");
        WaitFor(() => File.Exists(events) && File.ReadAllText(events).Contains("ready "));

        File.WriteAllText(config, """{"metrics":{"listen":"127.0.0.1:9602"}}""");
        Support.Posix.Kill(p.Id, 1);   // SIGHUP
        WaitFor(() => File.ReadAllText(events).Contains("reload ") && File.ReadAllText(events).Contains("listen=127.0.0.1:9602"));
        Support.Posix.Kill(p.Id, Support.Posix.SIGTERM);
        Assert.True(p.WaitForExit(20_000));
        Assert.Equal(0, p.ExitCode);
        Assert.EndsWith("listen=127.0.0.1:9602 level=information", File.ReadAllLines(events)[^1]);
        Assert.StartsWith("stop ", File.ReadAllLines(events)[^1]);
        Assert.Contains("SIGTERM received: stopping", await stderr);   // plain console logs on stderr
    }

    private static void WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException();
            Thread.Sleep(20);
        }
    }
}
