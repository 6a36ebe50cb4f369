using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;

namespace Sonde.Capture;

/// <summary>
/// Reads a capture file (<c>sonde report</c>): checks the preamble and reads
/// the header at construction, then hands out request records one by one.
/// </summary>
/// <remarks>
/// A file cut short after its header (capture killed, disk full) is not an
/// error: the reader returns every complete record and then sets
/// <see cref="IsTruncated"/>. Everything else that is wrong with the bytes is
/// a <see cref="CaptureFormatException"/> naming the offset, never another
/// exception, a hang, or an allocation larger than
/// <see cref="CaptureFormat.MaxRecordLength"/>. Records after the trailer are
/// ignored; records of kinds this version does not know are skipped.
/// </remarks>
public sealed class CaptureReader : IDisposable
{
    private const int MaxVarintBytes = 5; // a 32-bit length

    private readonly Stream _input;
    private readonly bool _leaveOpen;
    private byte[] _record = new byte[4096];
    private long _offset;
    private bool _finished;

    /// <summary>Reads and checks the preamble and the header record.</summary>
    /// <exception cref="CaptureFormatException">Not a capture, an unsupported version, a bad header, or a file that ends before its header does.</exception>
    public CaptureReader(Stream input, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        _leaveOpen = leaveOpen;
        _input = input is MemoryStream or BufferedStream ? input : new BufferedStream(input, 64 * 1024);
        try
        {
            ReadPreamble();
            Header = ReadHeader();
        }
        catch
        {
            if (!leaveOpen) input.Dispose();
            throw;
        }
    }

    /// <summary>Opens the capture at <paramref name="path"/>.</summary>
    public static CaptureReader Open(string path) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0));

    public CaptureHeader Header { get; }

    /// <summary>The trailer, once reading reached it; null before, and for a truncated file.</summary>
    public CaptureTrailer? Trailer { get; private set; }

    /// <summary>True once reading reached the end of a file that has no trailer.</summary>
    public bool IsTruncated { get; private set; }

    /// <summary>Request records returned so far.</summary>
    public long RequestsRead { get; private set; }

    /// <summary>
    /// The next request record; false at the trailer or at the end of the file
    /// (then <see cref="Trailer"/> or <see cref="IsTruncated"/> says which).
    /// </summary>
    /// <exception cref="CaptureFormatException">A record is corrupt.</exception>
    public bool TryReadRequest([NotNullWhen(true)] out CapturedRequest? request)
    {
        request = null;
        while (!_finished)
        {
            var recordOffset = _offset;
            if (!TryReadRecord(out var bytes))
            {
                _finished = true;
                IsTruncated = true;
                return false;
            }
            var record = Parse(bytes, recordOffset);
            switch (record.KindCase)
            {
                case CaptureRecord.KindOneofCase.Request:
                    request = record.Request;
                    RequestsRead++;
                    return true;
                case CaptureRecord.KindOneofCase.Trailer:
                    Trailer = record.Trailer;
                    _finished = true;
                    return false;
                case CaptureRecord.KindOneofCase.Header:
                    throw new CaptureFormatException("A second header record; the file is corrupt", recordOffset);
                default:
                    continue; // a record kind from a later version
            }
        }
        return false;
    }

    /// <summary>All remaining request records (see <see cref="TryReadRequest"/>).</summary>
    public IEnumerable<CapturedRequest> ReadRequests()
    {
        while (TryReadRequest(out var request)) yield return request;
    }

    public void Dispose()
    {
        if (!_leaveOpen) _input.Dispose();
    }

    private void ReadPreamble()
    {
        Span<byte> preamble = stackalloc byte[CaptureFormat.PreambleLength];
        var read = ReadFully(preamble);
        var magicRead = Math.Min(read, CaptureFormat.Magic.Length);
        if (!preamble[..magicRead].SequenceEqual(CaptureFormat.Magic[..magicRead]))
            throw new CaptureFormatException("Not a Sonde capture: the file does not start with \"SONDECAP\"", 0);
        if (read < CaptureFormat.PreambleLength)
            throw new CaptureFormatException("The capture ends inside its preamble: the file was truncated", read, isTruncation: true);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(preamble[8..]);
        if (version != CaptureFormat.Version)
            throw new CaptureFormatException(
                $"Capture format version {version} is not supported (this Sonde reads version {CaptureFormat.Version})", 8);
    }

    private CaptureHeader ReadHeader()
    {
        var offset = _offset;
        if (!TryReadRecord(out var bytes))
            throw new CaptureFormatException("The capture ends before its header is complete: the file was truncated", _offset, isTruncation: true);
        var record = Parse(bytes, offset);
        if (record.KindCase != CaptureRecord.KindOneofCase.Header)
            throw new CaptureFormatException($"The first record is a {record.KindCase}, not the header", offset);
        return record.Header;
    }

    private static CaptureRecord Parse(ReadOnlySpan<byte> bytes, long offset)
    {
        try
        {
            return CaptureRecord.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new CaptureFormatException($"A {bytes.Length}-byte record does not parse: {e.Message}", offset, inner: e);
        }
    }

    /// <summary>
    /// One length-delimited record; false when the file ends at or inside it
    /// (nothing after a cut is trustworthy, so both count as the end).
    /// </summary>
    private bool TryReadRecord(out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        var recordOffset = _offset;
        uint length = 0;
        for (var i = 0; ; i++)
        {
            var b = _input.ReadByte();
            if (b < 0) return false;
            _offset++;
            if (i == MaxVarintBytes - 1 && b > 0x0F)
                throw new CaptureFormatException("Malformed record length prefix (more than 32 bits)", recordOffset);
            length |= (uint)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0) break;
        }
        if (length > CaptureFormat.MaxRecordLength)
            throw new CaptureFormatException(
                $"Record length prefix says {length} bytes, more than the {CaptureFormat.MaxRecordLength}-byte limit: the file is corrupt",
                recordOffset);

        // Refuse to allocate for a record the file cannot hold; the check costs
        // an fstat, so only records that would grow the buffer pay for it.
        if (length > _record.Length && _input.CanSeek && length > _input.Length - _input.Position) return false;
        if (_record.Length < length) _record = new byte[Math.Max((int)length, _record.Length * 2)];
        var span = _record.AsSpan(0, (int)length);
        var read = ReadFully(span);
        if (read < length) return false;
        bytes = span;
        return true;
    }

    private int ReadFully(Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = _input.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        _offset += total;
        return total;
    }
}
