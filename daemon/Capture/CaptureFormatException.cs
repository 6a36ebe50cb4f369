namespace Sonde.Capture;

/// <summary>
/// A file that is not a readable Sonde capture: wrong magic, unsupported
/// version, a record that fails to parse or exceeds
/// <see cref="CaptureFormat.MaxRecordLength"/>, or a file cut short before its
/// header was complete (<see cref="IsTruncation"/>). A file cut short
/// <em>after</em> its header is not an error: <see cref="CaptureReader"/>
/// returns the complete records and sets <see cref="CaptureReader.IsTruncated"/>.
/// </summary>
public sealed class CaptureFormatException : IOException
{
    public CaptureFormatException(string message, long offset, bool isTruncation = false, Exception? inner = null)
        : base($"{message} (at byte {offset})", inner)
    {
        Offset = offset;
        IsTruncation = isTruncation;
    }

    /// <summary>File offset of the record (or preamble field) at fault.</summary>
    public long Offset { get; }

    /// <summary>True when the file ended before its header was complete.</summary>
    public bool IsTruncation { get; }
}
