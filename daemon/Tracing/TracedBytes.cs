namespace Sonde.Tracing;

/// <summary>Bytes read from a traced process (paths, hosts, peer names), which are not trusted.</summary>
public static class TracedBytes
{
    /// <summary>As text: invalid UTF-8 and control characters become U+FFFD.</summary>
    public static string Text(ReadOnlySpan<byte> utf8)
    {
        var s = System.Text.Encoding.UTF8.GetString(utf8);
        return string.Create(s.Length, s, (span, src) =>
        {
            for (int i = 0; i < src.Length; i++)
                span[i] = char.IsControl(src[i]) ? '\uFFFD' : src[i];
        });
    }
}
