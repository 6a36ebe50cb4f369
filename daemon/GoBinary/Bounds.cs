using System.Buffers.Binary;
using System.Text;

namespace Sonde.GoBinary;

/// <summary>
/// Bounds-checked little-endian reads at absolute offsets. Every offset and
/// length read from a file goes through here (or <see cref="SpanReader"/>),
/// so a hostile value becomes a <see cref="GoBinaryException"/> naming the
/// structure that did not fit, never an out-of-range exception.
/// </summary>
internal static class Bounds
{
    public static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> data, ulong offset, ulong length, string what)
    {
        if (offset > (ulong)data.Length || length > (ulong)data.Length - offset)
            throw new GoBinaryException(
                $"truncated {what}: it needs bytes 0x{offset:x}..+0x{length:x} but only 0x{data.Length:x} are there");
        return data.Slice((int)offset, (int)length);
    }

    public static bool Fits(int dataLength, ulong offset, ulong length) =>
        offset <= (ulong)dataLength && length <= (ulong)dataLength - offset;

    public static ushort U16(ReadOnlySpan<byte> data, ulong offset, string what) =>
        BinaryPrimitives.ReadUInt16LittleEndian(Slice(data, offset, 2, what));

    public static uint U32(ReadOnlySpan<byte> data, ulong offset, string what) =>
        BinaryPrimitives.ReadUInt32LittleEndian(Slice(data, offset, 4, what));

    public static ulong U64(ReadOnlySpan<byte> data, ulong offset, string what) =>
        BinaryPrimitives.ReadUInt64LittleEndian(Slice(data, offset, 8, what));

    /// <summary>
    /// A NUL-terminated string starting at <paramref name="offset"/>, at most
    /// <paramref name="maxLength"/> bytes long; bytes that are not UTF-8
    /// become U+FFFD rather than an error.
    /// </summary>
    public static string CString(ReadOnlySpan<byte> data, ulong offset, int maxLength, string what)
    {
        if (offset >= (ulong)data.Length)
            throw new GoBinaryException($"{what}: string offset 0x{offset:x} is past the end (0x{data.Length:x})");
        var rest = data[(int)offset..];
        if (rest.Length > maxLength + 1)
            rest = rest[..(maxLength + 1)];
        int nul = rest.IndexOf((byte)0);
        if (nul < 0)
            throw new GoBinaryException($"{what}: string at 0x{offset:x} is unterminated or longer than {maxLength} bytes");
        return Encoding.UTF8.GetString(rest[..nul]);
    }
}
