using System.Buffers;
using System.Globalization;
using System.Text;

namespace Sonde.Metrics;

/// <summary>Appends UTF-8 text, numbers and escaped strings to a buffer writer (the text exposition formats).</summary>
internal readonly struct Utf8Output(IBufferWriter<byte> output)
{
    public void Write(string text) => Write(text.AsSpan());

    public void Write(ReadOnlySpan<char> text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        var span = output.GetSpan(max);
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    public void Write(char ascii)
    {
        output.GetSpan(1)[0] = (byte)ascii;
        output.Advance(1);
    }

    public void Write(long value)
    {
        var span = output.GetSpan(20);
        value.TryFormat(span, out int written, default, CultureInfo.InvariantCulture);
        output.Advance(written);
    }

    /// <summary>A sample value: integral values as integers, others in Go's %g spelling.</summary>
    public void WriteNumber(double value)
    {
        if (Math.Abs(value) < 1e15 && value == Math.Floor(value)) Write((long)value);
        else Write(GoFloat.Format(value));
    }

    /// <summary>
    /// Writes <paramref name="text"/> with backslash and line feed escaped
    /// (as <c>\\</c> and <c>\n</c>), and double quotes too (<c>\"</c>) when
    /// <paramref name="quotes"/> is set.
    /// </summary>
    public void WriteEscaped(string text, bool quotes)
    {
        int start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            char c = text[i];
            string? escape = c switch
            {
                '\\' => "\\\\",
                '\n' => "\\n",
                '"' when quotes => "\\\"",
                _ => null,
            };
            if (escape is null) continue;
            if (i > start) Write(text.AsSpan(start, i - start));
            Write(escape);
            start = i + 1;
        }
        if (start < text.Length) Write(text.AsSpan(start));
    }
}
