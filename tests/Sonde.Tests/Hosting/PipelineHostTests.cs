using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sonde.Config;
using Sonde.Hosting;
using Sonde.Tracing;

namespace Sonde.Tests.Hosting;

/// <summary>
/// <see cref="PipelineHost"/> in process, against a fake notify socket: what
/// systemd is told, and when.
/// </summary>
public sealed class PipelineHostTests : IDisposable
{
    private readonly NotifyListener _systemd = new();
    private readonly SystemdNotifier _notifier;
    private readonly TestPipeline _pipeline = new();
    private readonly LogLevelSwitch _levels = new(LogLevel.Information);
    private Func<SondeConfig> _readConfig = () => new SondeConfig();

    public PipelineHostTests() => _notifier = new SystemdNotifier(_systemd.Address);

    public void Dispose()
    {
        _notifier.Dispose();
        _systemd.Dispose();
    }

    private PipelineHost Host(WatchdogSettings? watchdog = null, SondeConfig? config = null) =>
        new(config ?? new SondeConfig(), "/etc/sonde/sonde.json", () => _readConfig(), (_, _) => _pipeline,
            NullLoggerFactory.Instance, _notifier, watchdog, _levels) { StatusInterval = TimeSpan.FromMilliseconds(50) };

    [Fact]
    public async Task READY_is_sent_only_once_the_pipeline_has_started()
    {
        using var host = Host();
        var start = host.StartAsync(CancellationToken.None);
        _systemd.WaitFor(m => m.StartsWith("STATUS=starting", StringComparison.Ordinal));
        await Task.Delay(200);
        Assert.DoesNotContain(_systemd.Messages, m => m.Contains("READY=1"));
        Assert.False(start.IsCompleted);

        _pipeline.StartGate.SetResult();
        await start;
        string ready = _systemd.WaitFor(m => m.Contains("READY=1"));
        Assert.Equal("READY=1\nSTATUS=2 targets, 0 req/s, 0 drops", ready);
        Assert.Equal(["start", "started"], _pipeline.Calls);
        Assert.True(host.Ready.IsCompleted);
        await host.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task STATUS_follows_the_pipeline_and_is_sent_only_when_it_changes()
    {
        using var host = Host();
        _pipeline.StartGate.SetResult();
        await host.StartAsync(CancellationToken.None);
        _pipeline.Status = "3 targets, 1200 req/s, 0 drops";
        _systemd.WaitFor(m => m == "STATUS=3 targets, 1200 req/s, 0 drops");
        _pipeline.Status = "line one\nline two";
        _systemd.WaitFor(m => m == "STATUS=line one line two");   // STATUS= is one line
        await Task.Delay(300);
        Assert.Single(_systemd.Messages, m => m == "STATUS=line one line two");
        await host.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task WATCHDOG_pings_only_while_the_heartbeat_moves()
    {
        var settings = new WatchdogSettings(TimeSpan.FromMilliseconds(400));   // checked every 100 ms
        using var host = Host(settings);
        _pipeline.Run();
        _pipeline.StartGate.SetResult();
        await host.StartAsync(CancellationToken.None);
        Assert.Contains("WATCHDOG=1", _systemd.WaitFor(m => m.Contains("READY=1")));   // the first ping rides with READY
        int Pings() => _systemd.Messages.Count(m => m == "WATCHDOG=1");
        await WaitUntil(() => Pings() >= 3);   // pings keep coming while the heartbeat moves

        _pipeline.Freeze();
        await Task.Delay(300);   // a few checks: the last movement has been pinged
        int atFreeze = Pings();
        await Task.Delay(800);   // eight checks, no movement, no ping
        Assert.Equal(atFreeze, Pings());

        _pipeline.Thaw();
        await WaitUntil(() => Pings() > atFreeze);
        await host.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task No_watchdog_no_pings()
    {
        using var host = Host(watchdog: null);
        _pipeline.Run();
        _pipeline.StartGate.SetResult();
        await host.StartAsync(CancellationToken.None);
        await Task.Delay(300);
        Assert.DoesNotContain(_systemd.Messages, m => m.Contains("WATCHDOG"));
        await host.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Reload_is_RELOADING_with_a_monotonic_timestamp_then_READY_and_the_new_config()
    {
        using var host = Host();
        _pipeline.StartGate.SetResult();
        await host.StartAsync(CancellationToken.None);
        var next = new SondeConfig { Metrics = new MetricsConfig { Listen = "127.0.0.1:9999" }, Log = new LogConfig { Level = LogLevel.Debug } };
        _readConfig = () => next;
        long before = (long)(Sonde.Interop.LibC.Clock.MonotonicNs() / 1000);
        host.RequestReload();
        string reloading = _systemd.WaitFor(m => m.StartsWith("RELOADING=1", StringComparison.Ordinal));
        long stamp = long.Parse(reloading.Split('\n').Single(l => l.StartsWith("MONOTONIC_USEC=", StringComparison.Ordinal))["MONOTONIC_USEC=".Length..]);
        Assert.InRange(stamp, before, before + 5_000_000);
        await WaitUntil(() => host.ReloadsCompleted == 1);
        // READY=1 follows RELOADING=1; the listener may receive it a moment after the count moves.
        await WaitUntil(() =>
        {
            var messages = _systemd.Messages.ToList();
            int r = messages.FindIndex(m => m.StartsWith("RELOADING=1", StringComparison.Ordinal));
            return messages.Skip(r + 1).Any(m => m.StartsWith("READY=1", StringComparison.Ordinal));
        });
        Assert.Same(next, host.Config);
        Assert.Same(next, _pipeline.LastConfig);
        Assert.Equal(LogLevel.Debug, _levels.Minimum);
        await host.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task An_invalid_config_on_reload_keeps_the_old_one_and_says_so()
    {
        var original = new SondeConfig();
        using var host = Host(config: original);
        _pipeline.StartGate.SetResult();
        await host.StartAsync(CancellationToken.None);
        _readConfig = () => throw new ConfigException("targets[0].port", "must be 1..65535, got 70000");
        host.RequestReload();
        await WaitUntil(() => host.ReloadsCompleted == 1);
        Assert.Same(original, host.Config);
        Assert.DoesNotContain("reload", _pipeline.Calls);
        string ready = _systemd.Messages.Last(m => m.StartsWith("READY=1", StringComparison.Ordinal));
        Assert.Contains("last reload rejected: targets[0].port: must be 1..65535, got 70000", ready);

        // A later good reload clears the note.
        _readConfig = () => new SondeConfig();
        host.RequestReload();
        await WaitUntil(() => host.ReloadsCompleted == 2);
        Assert.DoesNotContain("rejected", _systemd.Messages.Last(m => m.StartsWith("READY=1", StringComparison.Ordinal)));
        await host.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_failing_pipeline_reload_keeps_the_daemon_running()
    {
        using var host = Host();
        _pipeline.StartGate.SetResult();
        await host.StartAsync(CancellationToken.None);
        _pipeline.FailReload = new TraceException("pid 42 vanished");
        host.RequestReload();
        await WaitUntil(() => host.ReloadsCompleted == 1);
        Assert.Contains("last reload failed: pid 42 vanished", _systemd.Messages.Last(m => m.StartsWith("READY=1", StringComparison.Ordinal)));
        Assert.Equal(0, host.ExitCode);
        await host.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Stop_says_STOPPING_before_the_pipeline_detaches()
    {
        using var host = Host();
        _pipeline.StartGate.SetResult();
        await host.StartAsync(CancellationToken.None);
        await host.StopAsync(CancellationToken.None);
        Assert.StartsWith("STOPPING=1", _systemd.WaitFor(m => m.StartsWith("STOPPING=1", StringComparison.Ordinal)));
        Assert.Equal("stop", _pipeline.Calls[^1]);
        Assert.Equal(0, host.ExitCode);
    }

    [Fact]
    public async Task A_failed_start_never_says_READY_and_exits_1()
    {
        using var host = Host();
        _pipeline.FailStart = new TraceException("no such process: pid 4242");
        _pipeline.StartGate.SetResult();
        await Assert.ThrowsAsync<TraceException>(() => host.StartAsync(CancellationToken.None));
        Assert.Equal(1, host.ExitCode);
        _systemd.WaitFor(m => m == "STATUS=failed to start: no such process: pid 4242");
        Assert.DoesNotContain(_systemd.Messages, m => m.Contains("READY=1"));
        Assert.Equal("stop", _pipeline.Calls[^1]);   // whatever it attached is undone
    }

    [Fact]
    public async Task Stopping_during_the_start_cancels_it()
    {
        using var host = Host();
        using var cts = new CancellationTokenSource(200);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.StartAsync(cts.Token));
        Assert.Equal(["start", "stop"], _pipeline.Calls);
        Assert.DoesNotContain(_systemd.Messages, m => m.Contains("READY=1"));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException();
            await Task.Delay(10);
        }
    }
}
