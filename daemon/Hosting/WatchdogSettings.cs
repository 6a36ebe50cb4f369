using System.Globalization;

namespace Sonde.Hosting;

/// <summary>
/// The systemd watchdog this process must feed, from <c>$WATCHDOG_USEC</c>
/// (the timeout, set by <c>WatchdogSec=</c>) and <c>$WATCHDOG_PID</c>: per
/// sd_watchdog_enabled(3) the watchdog is ours only when WATCHDOG_PID is unset
/// or holds our own pid (otherwise it was meant for a process further up).
/// </summary>
public readonly record struct WatchdogSettings(TimeSpan Timeout)
{
    /// <summary>
    /// How often the heartbeat is checked: a quarter of the timeout.
    /// sd_watchdog_enabled(3) suggests pinging every half; checking twice as
    /// often means one check that finds the heartbeat momentarily still (a GC
    /// pause, a slow reload) cannot by itself let the deadline pass.
    /// </summary>
    public TimeSpan CheckInterval => Timeout / 4;

    /// <summary>The settings for process <paramref name="pid"/>, or null when no watchdog is expected of it.</summary>
    public static WatchdogSettings? FromEnvironment(IReadOnlyDictionary<string, string> environment, int pid)
    {
        if (!environment.TryGetValue("WATCHDOG_USEC", out var usecText)
            || !ulong.TryParse(usecText, NumberStyles.None, CultureInfo.InvariantCulture, out ulong usec) || usec == 0)
            return null;
        if (environment.TryGetValue("WATCHDOG_PID", out var pidText) && pidText.Length > 0
            && (!int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out int owner) || owner != pid))
            return null;
        return new WatchdogSettings(TimeSpan.FromMicroseconds(Math.Min(usec, (ulong)TimeSpan.MaxValue.TotalMicroseconds / 2)));
    }
}
