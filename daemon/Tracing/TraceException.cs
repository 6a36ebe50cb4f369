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
}
