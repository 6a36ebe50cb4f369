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
}
