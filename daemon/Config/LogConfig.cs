using Microsoft.Extensions.Logging;

namespace Sonde.Config;

/// <summary>The <c>log</c> section.</summary>
public sealed record LogConfig
{
    /// <summary>
    /// Least severe level written: <c>trace</c>, <c>debug</c>, <c>information</c>,
    /// <c>warning</c>, <c>error</c>, <c>critical</c> or <c>none</c>. A reload applies it at once.
    /// </summary>
    public LogLevel Level { get; init; } = LogLevel.Information;
}
