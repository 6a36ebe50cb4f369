namespace Sonde.Hosting;

/// <summary>
/// Decides, at each watchdog check, whether to send WATCHDOG=1: only if the
/// pipeline's heartbeat moved since the last ping. A frozen event loop thus
/// stops the pings and systemd, after WatchdogSec, kills (SIGABRT) and
/// restarts the unit. Not thread-safe: one checking loop owns it.
/// </summary>
public sealed class HeartbeatWatchdog
{
    private long _lastPinged;
    private long _lastAdvanceMs;

    /// <summary>Starts from the heartbeat at READY (which is pinged along with READY=1).</summary>
    public HeartbeatWatchdog(long heartbeatAtReady, long nowMs)
    {
        _lastPinged = heartbeatAtReady;
        _lastAdvanceMs = nowMs;
    }

    /// <summary>True when the last check found the heartbeat where it was.</summary>
    public bool Stalled { get; private set; }

    /// <summary>Time since the heartbeat was last seen moving, as of <paramref name="nowMs"/>.</summary>
    public TimeSpan SinceAdvance(long nowMs) => TimeSpan.FromMilliseconds(nowMs - _lastAdvanceMs);

    /// <summary>Records a check at <paramref name="nowMs"/> (a monotonic millisecond clock); true: send WATCHDOG=1.</summary>
    public bool ShouldPing(long heartbeat, long nowMs)
    {
        if (heartbeat != _lastPinged)
        {
            _lastPinged = heartbeat;
            _lastAdvanceMs = nowMs;
            Stalled = false;
            return true;
        }
        Stalled = true;
        return false;
    }
}
