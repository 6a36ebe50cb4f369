using System.Buffers.Binary;

namespace Sonde.GoBinary;

/// <summary>
/// A cursor over untrusted bytes: every read checks what is left and throws
/// <see cref="GoBinaryException"/> ("truncated <c>what</c>") when it would
/// run past the end. LEB128 values longer than 10 bytes are rejected, so a
/// run of continuation bytes cannot make a read loop long.
/// </summary>
internal ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _what;
    private int _position;

    public SpanReader(ReadOnlySpan<byte> data, string what, int position = 0)
    {
        _data = data;
        _what = what;
        _position = 0;
        Position = position;
    }

    public readonly int Length => _data.Length;
    public readonly int Remaining => _data.Length - _position;
    public readonly bool AtEnd => _position >= _data.Length;

    public int Position
    {
        readonly get => _position;
        set
        {
            if ((uint)value > (uint)_data.Length)
                throw Truncated();
            _position = value;
        }
    }

    public byte U8()
    {
        if (_position >= _data.Length)
            throw Truncated();
        return _data[_position++];
    }

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));
    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));

    /// <summary>A little-endian unsigned value of 1, 2, 4 or 8 bytes.</summary>
    public ulong Unsigned(int size) => size switch
    {
        1 => U8(),
        2 => U16(),
        4 => U32(),
        8 => U64(),
        _ => throw new GoBinaryException($"{_what}: unsupported field size {size}"),
    };

    public ReadOnlySpan<byte> Bytes(ulong count)
    {
        if (count > (ulong)Remaining)
            throw Truncated();
        var span = _data.Slice(_position, (int)count);
        _position += (int)count;
        return span;
    }

    public void Skip(ulong count) => Bytes(count);

    /// <summary>Unsigned LEB128 (DWARF 5 section 7.6; Go's encoding/binary uvarint is the same).</summary>
    public ulong Uleb()
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            byte b = U8();
            if (shift < 64)
                result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
                return result;
        }
        throw new GoBinaryException($"{_what}: LEB128 value longer than 10 bytes at 0x{_position:x}");
    }

    /// <summary>Signed LEB128 (DWARF 5 section 7.6).</summary>
    public long Sleb()
    {
        long result = 0;
        int shift = 0;
        byte b;
        do
        {
            if (shift >= 70)
                throw new GoBinaryException($"{_what}: LEB128 value longer than 10 bytes at 0x{_position:x}");
            b = U8();
            if (shift < 64)
                result |= (long)(b & 0x7f) << shift;
            shift += 7;
        } while ((b & 0x80) != 0);
        if (shift < 64 && (b & 0x40) != 0)
            result |= -1L << shift;
        return result;
    }

    /// <summary>The bytes up to the next NUL, which is consumed.</summary>
    public ReadOnlySpan<byte> CString()
    {
        var rest = _data[_position..];
        int nul = rest.IndexOf((byte)0);
        if (nul < 0)
            throw new GoBinaryException($"{_what}: unterminated string at 0x{_position:x}");
        _position += nul + 1;
        return rest[..nul];
    }

    private readonly GoBinaryException Truncated() =>
        new($"truncated {_what}: a read at 0x{_position:x} runs past its end (0x{_data.Length:x})");
}
