using Microsoft.Extensions.Logging;

namespace Sonde.Hosting;

/// <summary>
/// The least severe level written, changeable while running: a reload with
/// a new <c>log.level</c> applies at once, to every logger already created.
/// </summary>
public sealed class LogLevelSwitch(LogLevel minimum)
{
    private volatile int _minimum = (int)minimum;

    public LogLevel Minimum
    {
        get => (LogLevel)_minimum;
        set => _minimum = (int)value;
    }

    public bool IsEnabled(LogLevel level) => level != LogLevel.None && (int)level >= _minimum;
}
