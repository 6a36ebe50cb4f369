using System.Text;

namespace Sonde.Aggregation;

/// <summary>
/// Makes text from traced processes safe to print: routes and paths are the
/// traced program's bytes, and a control character in them (ESC, CSI, a
/// carriage return) would otherwise drive the user's terminal.
/// </summary>
internal static class TerminalText
{
    /// <summary>
    /// Control characters (C0, DEL, C1) and line separators as <c>\xNN</c> /
    /// <c>\uNNNN</c>; then cut to <paramref name="maxWidth"/> chars with a
    /// trailing "...".
    /// </summary>
    public static string Clean(string text, int maxWidth = int.MaxValue)
    {
        StringBuilder? builder = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var unsafeChar = c < 0x20 || c is >= '\u007f' and <= '\u009f' or '\u2028' or '\u2029';
            if (unsafeChar)
            {
                builder ??= new StringBuilder(text, 0, i, text.Length + 8);
                builder.Append(c <= 0xFF ? $"\\x{(int)c:x2}" : $"\\u{(int)c:x4}");
            }
            else builder?.Append(c);
        }
        var clean = builder?.ToString() ?? text;
        if (clean.Length <= maxWidth) return clean;
        if (maxWidth <= 3) return new string('.', Math.Max(0, maxWidth));
        var keep = maxWidth - 3;
        if (char.IsHighSurrogate(clean[keep - 1])) keep--; // don't split a surrogate pair
        return clean[..keep] + "...";
    }
}
