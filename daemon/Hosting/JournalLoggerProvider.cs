using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Sonde.Hosting;

/// <summary>
/// Logs to the systemd journal with structured fields: MESSAGE, PRIORITY
/// (syslog levels: Critical 2, Error 3, Warning 4, Information 6, Debug and
/// Trace 7), SYSLOG_IDENTIFIER=sonde, SONDE_CATEGORY, SONDE_EVENT (the
/// [LoggerMessage] method's name), SONDE_EVENT_ID, CODE_FILE, and one
/// <c>SONDE_*</c> field per message-template property (<c>{TargetPid}</c> →
/// <c>SONDE_TARGET_PID=</c>), so <c>journalctl SONDE_TARGET_PID=4242</c> finds
/// what concerns one target. Level filtering is the logging builder's.
/// </summary>
internal sealed class JournalLoggerProvider(JournalOutput output) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new JournalLogger(categoryName, output);

    public void Dispose() => output.Dispose();

    public static int Priority(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,
        LogLevel.Error => 3,
        LogLevel.Warning => 4,
        LogLevel.Information => 6,
        _ => 7,
    };

    /// <summary>
    /// The source file a Sonde category's logs come from: a type's logger
    /// (ILogger&lt;T&gt;) logs from T's file, and in this repository the
    /// namespace is the folder under daemon/ and the file is the type's name.
    /// Null for categories outside Sonde.
    /// </summary>
    public static string? CodeFile(string category)
    {
        if (!category.StartsWith("Sonde.", StringComparison.Ordinal)) return null;
        string type = category.Split('[', '`', '+')[0];
        return "daemon/" + type["Sonde.".Length..].Replace('.', '/') + ".cs";
    }

    private sealed class JournalLogger(string category, JournalOutput output) : ILogger
    {
        [ThreadStatic] private static JournalEntry? t_entry;
        private readonly string? _codeFile = CodeFile(category);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string message = formatter(state, exception);
            if (exception is not null) message = message.Length == 0 ? exception.ToString() : $"{message}\n{exception}";
            int priority = Priority(logLevel);

            var e = t_entry ??= new JournalEntry();
            e.Clear();
            e.Add("MESSAGE", message);
            e.Add("PRIORITY", priority.ToString(CultureInfo.InvariantCulture));
            e.Add("SYSLOG_IDENTIFIER", "sonde");
            if (_codeFile is not null) e.Add("CODE_FILE", _codeFile);
            e.Add("SONDE_CATEGORY", category);
            if (!string.IsNullOrEmpty(eventId.Name)) e.Add("SONDE_EVENT", eventId.Name);
            if (eventId.Id != 0) e.Add("SONDE_EVENT_ID", eventId.Id.ToString(CultureInfo.InvariantCulture));
            if (exception is not null) e.Add("SONDE_EXCEPTION", exception.GetType().FullName ?? exception.GetType().Name);
            if (state is IReadOnlyList<KeyValuePair<string, object?>> properties)
            {
                foreach (var (key, value) in properties)
                {
                    if (value is null || key == "{OriginalFormat}") continue;
                    e.Add(JournalEntry.FieldName(key), value is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : value.ToString() ?? "");
                }
            }
            output.Write(e, priority, message);
        }
    }
}
