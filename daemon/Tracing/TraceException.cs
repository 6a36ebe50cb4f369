namespace Sonde.Tracing;

/// <summary>
/// A problem the user can act on (no such pid, not a Go program, missing
/// capability, kernel feature missing). The CLI prints the message and exits
/// non-zero without a stack trace.
/// </summary>
public sealed class TraceException : Exception
{
    public TraceException(string message) : base(message) { }
    public TraceException(string message, Exception inner) : base(message, inner) { }

    /// <summary>
    /// Why, as <c>sonde run</c> counts it in
    /// <c>sonde_probe_attach_failures_total{reason}</c>: <c>unsupported</c> unless
    /// the thrower knows better (<c>unknown_go_version</c>, <c>old_go_version</c>,
    /// <c>no_http_server</c>, <c>breakdown_unavailable</c>, <c>attach_error</c>).
    /// </summary>
    public string Reason { get; init; } = "unsupported";
}
