namespace Sonde.Metrics;

/// <summary>How one OTLP export ended, and when to try again after a retryable failure.</summary>
internal readonly record struct OtlpExportOutcome(OtlpExportOutcome.Result Kind, string Reason, TimeSpan? RetryAfter)
{
    public enum Result { Success, Retryable, Permanent, Cancelled }

    public static OtlpExportOutcome Success => new(Result.Success, "", null);

    public static OtlpExportOutcome Retryable(string reason, TimeSpan? retryAfter) => new(Result.Retryable, reason, retryAfter);

    public static OtlpExportOutcome Permanent(string reason) => new(Result.Permanent, reason, null);

    /// <summary>The exporter was stopped while the export was in flight.</summary>
    public static OtlpExportOutcome Cancelled => new(Result.Cancelled, "stopped", null);
}
