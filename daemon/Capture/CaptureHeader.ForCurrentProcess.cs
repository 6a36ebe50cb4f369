using System.Reflection;
using Sonde.Aggregation;

namespace Sonde.Capture;

public sealed partial class CaptureHeader
{
    /// <summary>
    /// A header for a capture starting now, in this process: Sonde's version,
    /// the host name, both clocks read back to back.
    /// </summary>
    public static CaptureHeader ForCurrentProcess(IEnumerable<TargetInfo> targets, IEnumerable<string> commandLine)
    {
        var header = new CaptureHeader
        {
            SondeVersion = SondeVersionString(),
            HostName = Environment.MachineName,
            StartMonotonicNs = MonotonicClock.NowNs(),
            StartTimeUnixNs = UnixNs(DateTimeOffset.UtcNow),
        };
        header.Targets.AddRange(targets.Select(CaptureTarget.FromTargetInfo));
        header.CommandLine.AddRange(commandLine);
        return header;
    }

    /// <summary>Wall-clock start of the capture.</summary>
    public DateTimeOffset StartTime => FromUnixNs(StartTimeUnixNs);

    internal static long UnixNs(DateTimeOffset time) => (time.UtcTicks - DateTime.UnixEpoch.Ticks) * 100;

    internal static DateTimeOffset FromUnixNs(long unixNs) =>
        new(DateTime.UnixEpoch.Ticks + unixNs / 100, TimeSpan.Zero);

    private static string SondeVersionString() =>
        typeof(CaptureHeader).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(CaptureHeader).Assembly.GetName().Version?.ToString()
        ?? "unknown";
}
