using Sonde.Hosting;

namespace Sonde.Tests.Hosting;

/// <summary>WATCHDOG_USEC/WATCHDOG_PID as sd_watchdog_enabled(3) reads them, and the heartbeat rule.</summary>
public sealed class WatchdogTests
{
    private static WatchdogSettings? From(int pid, params (string, string)[] env) =>
        WatchdogSettings.FromEnvironment(env.ToDictionary(e => e.Item1, e => e.Item2), pid);

    [Fact]
    public void Enabled_by_WATCHDOG_USEC_for_us_or_for_anyone()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), From(100, ("WATCHDOG_USEC", "30000000"))!.Value.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(2), From(100, ("WATCHDOG_USEC", "2000000"), ("WATCHDOG_PID", "100"))!.Value.Timeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), From(100, ("WATCHDOG_USEC", "2000000"))!.Value.CheckInterval);
    }

    [Fact]
    public void Not_enabled_for_another_pid_or_without_a_timeout()
    {
        Assert.Null(From(100, ("WATCHDOG_USEC", "30000000"), ("WATCHDOG_PID", "99")));
        Assert.Null(From(100));
        Assert.Null(From(100, ("WATCHDOG_USEC", "0")));
        Assert.Null(From(100, ("WATCHDOG_USEC", "soon")));
        Assert.Null(From(100, ("WATCHDOG_USEC", "1000"), ("WATCHDOG_PID", "x")));
    }

    [Fact]
    public void Pings_only_when_the_heartbeat_moved_since_the_last_ping()
    {
        var w = new HeartbeatWatchdog(heartbeatAtReady: 10, nowMs: 0);
        Assert.True(w.ShouldPing(11, 100));
        Assert.False(w.Stalled);
        Assert.False(w.ShouldPing(11, 200));
        Assert.True(w.Stalled);
        Assert.False(w.ShouldPing(11, 300));
        Assert.Equal(TimeSpan.FromMilliseconds(200), w.SinceAdvance(300));
        Assert.True(w.ShouldPing(12, 400));
        Assert.False(w.Stalled);
        Assert.False(new HeartbeatWatchdog(5, 0).ShouldPing(5, 100));   // READY already pinged at 5
    }
}
