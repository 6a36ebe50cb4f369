using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Sonde.Hosting;

/// <summary>
/// One journal entry in journald's native format (systemd's
/// docs/JOURNAL_NATIVE_PROTOCOL.md): fields <c>NAME=value\n</c>, or, for a value
/// containing a newline, <c>NAME\n</c> + the value's length as a little-endian
/// u64 + the value + <c>\n</c>. Reused: <see cref="Clear"/> between entries.
/// </summary>
internal sealed class JournalEntry
{
    /// <summary>journald accepts user field names of 1..64 characters from [A-Z0-9_], not starting with '_' or a digit.</summary>
    public const int MaxFieldName = 64;

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    public ReadOnlyMemory<byte> Datagram => _buffer.WrittenMemory;

    public void Clear() => _buffer.ResetWrittenCount();

    public void Add(string name, string value)
    {
        WriteAscii(name);
        int length = Encoding.UTF8.GetByteCount(value);
        if (value.Contains('\n'))
        {
            WriteByte((byte)'\n');
            BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), (ulong)length);
            _buffer.Advance(8);
        }
        else WriteByte((byte)'=');
        _buffer.Advance(Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length)));
        WriteByte((byte)'\n');
    }

    /// <summary>
    /// A journal field name for a structured-logging property: "TargetPid" →
    /// "SONDE_TARGET_PID" (words split at case changes, anything else becomes
    /// '_'), cut to 64 characters.
    /// </summary>
    public static string FieldName(string property)
    {
        var sb = new StringBuilder("SONDE_", 6 + property.Length + 4);
        for (int i = 0; i < property.Length; i++)
        {
            char c = property[i];
            if (char.IsAsciiLetterUpper(c) && i > 0 && (char.IsAsciiLetterLower(property[i - 1]) || char.IsAsciiDigit(property[i - 1])
                || (i + 1 < property.Length && char.IsAsciiLetterLower(property[i + 1]) && char.IsAsciiLetterUpper(property[i - 1]))))
                sb.Append('_');
            sb.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        }
        return sb.Length > MaxFieldName ? sb.ToString(0, MaxFieldName) : sb.ToString();
    }

    private void WriteAscii(string s)
    {
        var span = _buffer.GetSpan(s.Length);
        for (int i = 0; i < s.Length; i++) span[i] = (byte)s[i];
        _buffer.Advance(s.Length);
    }

    private void WriteByte(byte b)
    {
        _buffer.GetSpan(1)[0] = b;
        _buffer.Advance(1);
    }
}
