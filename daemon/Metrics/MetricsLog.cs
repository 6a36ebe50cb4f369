using Microsoft.Extensions.Logging;

namespace Sonde.Metrics;

/// <summary>The metrics exporters' log events.</summary>
internal static partial class MetricsLog
{
    [LoggerMessage(300, LogLevel.Warning, "OTLP export to {Uri} failed ({Reason}); retrying in {Delay}")]
    public static partial void OtlpExportRetrying(this ILogger logger, Uri uri, string reason, TimeSpan delay);

    [LoggerMessage(301, LogLevel.Warning, "OTLP export to {Uri} refused ({Reason}); not retried, the next export carries the same cumulative counts")]
    public static partial void OtlpExportRefused(this ILogger logger, Uri uri, string reason);

    [LoggerMessage(302, LogLevel.Warning, "OTLP collector {Uri} rejected {Rejected} data points: {Message}")]
    public static partial void OtlpPartialSuccess(this ILogger logger, Uri uri, long rejected, string message);

    [LoggerMessage(303, LogLevel.Information, "OTLP export to {Uri} succeeded again after {Failures} failures")]
    public static partial void OtlpExportRecovered(this ILogger logger, Uri uri, int failures);
}
