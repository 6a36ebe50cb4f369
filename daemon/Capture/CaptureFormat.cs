namespace Sonde.Capture;

/// <summary>
/// The fixed parts of a capture file (the layout is documented in
/// <c>capture.proto</c>): the 8-byte magic, the 4-byte little-endian format
/// version after it, and the record length limit both sides enforce.
/// </summary>
public static class CaptureFormat
{
    /// <summary>The first 8 bytes of every capture: ASCII "SONDECAP".</summary>
    public static ReadOnlySpan<byte> Magic => "SONDECAP"u8;

    /// <summary>Format version written after the magic; readers refuse other versions.</summary>
    public const uint Version = 1;

    /// <summary>Magic plus version.</summary>
    public const int PreambleLength = 12;

    /// <summary>
    /// Longest record a writer produces or a reader accepts (1 MiB). A request
    /// record is a few hundred bytes and a header a few KiB, so a longer
    /// length prefix means corruption; the cap keeps a reader from allocating
    /// whatever a damaged prefix says.
    /// </summary>
    public const int MaxRecordLength = 1 << 20;
}
