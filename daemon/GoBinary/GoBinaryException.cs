namespace Sonde.GoBinary;

/// <summary>
/// The only exception Go executable analysis lets out: the file is not what
/// Sonde can trace (not ELF, not a Go program, truncated, corrupt, too big).
/// The message says what is wrong in terms a user can act on. Sonde parses
/// binaries owned by other users while running as root, so every malformed
/// input ends here and never as an index, overflow or decompression error.
/// </summary>
public sealed class GoBinaryException : Exception
{
    public GoBinaryException(string message) : base(message) { }

    public GoBinaryException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>
    /// Why, as <c>sonde run</c> counts it in <c>sonde_probe_attach_failures_total{reason}</c>:
    /// <c>corrupt_binary</c> unless the thrower says <c>not_a_go_binary</c>,
    /// <c>old_go_version</c>, <c>unknown_go_version</c>, <c>unsupported_architecture</c>
    /// or <c>unreadable</c>. A wrapping exception keeps the reason of the one it wraps.
    /// </summary>
    public string Reason
    {
        get => _reason ?? (InnerException as GoBinaryException)?.Reason ?? "corrupt_binary";
        init => _reason = value;
    }

    private readonly string? _reason;
}
