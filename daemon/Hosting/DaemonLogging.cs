using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Sonde.Hosting;

/// <summary>
/// Chooses where `sonde run` logs: when stderr is the journal (see
/// <see cref="JournalStream"/>), journal entries with structured fields
/// (<see cref="JournalLoggerProvider"/>; native protocol, else
/// priority-prefixed lines); otherwise one line per message on stderr.
/// The level comes from a <see cref="LogLevelSwitch"/>, so reloads change it.
/// </summary>
public static class DaemonLogging
{
    /// <summary>Configures <paramref name="logging"/>; returns a phrase saying where logs go.</summary>
    public static string Configure(ILoggingBuilder logging, LogLevelSwitch levels, string? journalStream)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddFilter((_, _, level) => levels.IsEnabled(level));
        if (JournalStream.IsStderr(journalStream))
        {
            var output = JournalOutput.Open(Console.OpenStandardError());
            logging.AddProvider(new JournalLoggerProvider(output));
            return output.IsNative ? "the journal (native protocol)" : "the journal (stderr, priority prefixes)";
        }
        logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        return "stderr";
    }
}
