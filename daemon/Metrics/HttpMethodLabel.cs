namespace Sonde.Metrics;

/// <summary>
/// The <c>http_request_method</c> label: one of the methods of RFC 9110 and
/// RFC 5789 (PATCH) as sent, or <c>_OTHER</c> for anything else, as
/// OpenTelemetry's semantic conventions define the attribute
/// <c>http.request.method</c> (its "known" methods are exactly these). A
/// method is whatever the client wrote, so without the fold any client could
/// mint series.
/// </summary>
internal static class HttpMethodLabel
{
    public const string Other = "_OTHER";

    private static readonly byte[][] s_known =
        [.. new[] { "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH" }.Select(m => System.Text.Encoding.ASCII.GetBytes(m))];

    /// <summary>Labels by index: the known methods, then <see cref="Other"/>.</summary>
    public static IReadOnlyList<string> Labels { get; } =
        [.. s_known.Select(m => System.Text.Encoding.ASCII.GetString(m)), Other];

    /// <summary>Index of <paramref name="method"/> in <see cref="Labels"/> (case-sensitive, as HTTP methods are).</summary>
    public static int Index(ReadOnlySpan<byte> method)
    {
        for (var i = 0; i < s_known.Length; i++)
            if (method.SequenceEqual(s_known[i])) return i;
        return s_known.Length;
    }
}
