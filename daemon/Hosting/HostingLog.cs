using Microsoft.Extensions.Logging;

namespace Sonde.Hosting;

/// <summary>
/// The named log events of `sonde run`'s hosting layer. Each becomes a
/// journal entry with SONDE_EVENT=&lt;method name&gt; and one SONDE_* field per
/// placeholder (see <see cref="JournalLoggerProvider"/>).
/// </summary>
internal static partial class HostingLog
{
    [LoggerMessage(1, LogLevel.Information, "starting: {TargetCount} targets from {ConfigPath}")]
    public static partial void Starting(this ILogger logger, int targetCount, string configPath);

    [LoggerMessage(2, LogLevel.Information, "ready: {Status}")]
    public static partial void Ready(this ILogger logger, string status);

    [LoggerMessage(3, LogLevel.Critical, "cannot start: {Reason}")]
    public static partial void StartFailed(this ILogger logger, string reason);

    [LoggerMessage(4, LogLevel.Critical, "cannot start: unexpected error")]
    public static partial void StartCrashed(this ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Information, "reloading {ConfigPath}")]
    public static partial void Reloading(this ILogger logger, string configPath);

    [LoggerMessage(6, LogLevel.Information, "reloaded: {TargetCount} targets; {Status}")]
    public static partial void Reloaded(this ILogger logger, int targetCount, string status);

    [LoggerMessage(7, LogLevel.Error, "reload rejected, still running with the previous configuration: {ConfigPath}: {Reason}")]
    public static partial void ReloadRejected(this ILogger logger, string configPath, string reason);

    [LoggerMessage(8, LogLevel.Error, "reload failed, the pipeline keeps its previous configuration: {Reason}")]
    public static partial void ReloadFailed(this ILogger logger, string reason, Exception exception);

    [LoggerMessage(9, LogLevel.Information, "stopping: detaching every probe")]
    public static partial void Stopping(this ILogger logger);

    [LoggerMessage(10, LogLevel.Information, "stopped")]
    public static partial void Stopped(this ILogger logger);

    [LoggerMessage(11, LogLevel.Error, "stop failed: {Reason}")]
    public static partial void StopFailed(this ILogger logger, string reason, Exception exception);

    [LoggerMessage(12, LogLevel.Warning, "pipeline heartbeat has not advanced for {StalledSeconds:0.0}s: withholding the watchdog ping (systemd restarts sonde after {WatchdogSeconds:0.###}s without one)")]
    public static partial void HeartbeatStalled(this ILogger logger, double stalledSeconds, double watchdogSeconds);

    [LoggerMessage(13, LogLevel.Information, "pipeline heartbeat moving again after {StalledSeconds:0.0}s")]
    public static partial void HeartbeatResumed(this ILogger logger, double stalledSeconds);

    [LoggerMessage(14, LogLevel.Information, "systemd watchdog: timeout {WatchdogSeconds:0.###}s, heartbeat checked every {CheckSeconds:0.###}s")]
    public static partial void WatchdogEnabled(this ILogger logger, double watchdogSeconds, double checkSeconds);

    [LoggerMessage(15, LogLevel.Warning, "cannot notify systemd at {NotifySocket}: {Reason}")]
    public static partial void NotifyFailed(this ILogger logger, string notifySocket, string reason);

    [LoggerMessage(16, LogLevel.Warning, "not notifying systemd: {Reason}")]
    public static partial void NotifyUnsupported(this ILogger logger, string reason);

    [LoggerMessage(17, LogLevel.Debug, "logging to {LogOutput} at level {LogLevelName}")]
    public static partial void LoggingTo(this ILogger logger, string logOutput, string logLevelName);

    [LoggerMessage(18, LogLevel.Information, "log level is now {LogLevelName}")]
    public static partial void LogLevelChanged(this ILogger logger, string logLevelName);

    [LoggerMessage(19, LogLevel.Error, "pipeline status failed: {Reason}")]
    public static partial void StatusFailed(this ILogger logger, string reason);

    [LoggerMessage(20, LogLevel.Information, "{Signal} received: {Action}")]
    public static partial void SignalReceived(this ILogger logger, string signal, string action);
}
