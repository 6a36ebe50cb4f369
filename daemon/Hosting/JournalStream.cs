using System.Globalization;
using Sonde.Interop.LibC;

namespace Sonde.Hosting;

/// <summary>
/// Whether stderr is systemd-journald's stream socket. systemd sets
/// <c>$JOURNAL_STREAM</c> to "device:inode" (decimal) of the stream it
/// connected to stderr (systemd.exec(5), "Environment variables"); the
/// variable alone proves nothing, since a parent may have redirected stderr
/// and kept the variable, so the pair is compared with what stderr is now.
/// </summary>
public static class JournalStream
{
    /// <summary>
    /// True when <paramref name="journalStream"/> names the file stderr is.
    /// stat("/proc/self/fd/2") follows the descriptor to the open file itself
    /// (here a socket), which is what fstat(2) would report.
    /// </summary>
    public static bool IsStderr(string? journalStream)
    {
        if (Parse(journalStream) is not { } expected) return false;
        return FileIdentity.TryOf("/proc/self/fd/2", out var actual) && actual == expected;
    }

    /// <summary>"dev:ino" → identity, or null if malformed.</summary>
    public static FileIdentity? Parse(string? journalStream)
    {
        if (string.IsNullOrEmpty(journalStream)) return null;
        int colon = journalStream.IndexOf(':');
        if (colon <= 0) return null;
        if (!ulong.TryParse(journalStream.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out ulong dev)
            || !ulong.TryParse(journalStream.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong ino))
            return null;
        return new FileIdentity(dev, ino);
    }
}
