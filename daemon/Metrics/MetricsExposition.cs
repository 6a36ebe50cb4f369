using System.Buffers;
using Google.Protobuf;

namespace Sonde.Metrics;

/// <summary>
/// Chooses a scrape format from an <c>Accept</c> header the way Prometheus'
/// own client library does, and writes a snapshot in it.
/// </summary>
/// <remarks>
/// <para>
/// What Prometheus sends (scrape/scrape.go, v2.42.0): without feature flags
/// <c>application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1</c>,
/// and with <c>--enable-feature=native-histograms</c>
/// <c>application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,…</c>.
/// Later versions build the list from <c>scrape_protocols</c> with
/// descending q values (0.6, 0.5, …) and an <c>escaping=</c> parameter.
/// </para>
/// <para>
/// The rule (client_golang's expfmt.NegotiateIncludingOpenMetrics): walk the
/// media ranges by descending q (ties in header order), skip q=0, and take
/// the first that is protobuf with <c>proto=io.prometheus.client.MetricFamily</c>
/// and <c>encoding=delimited</c>, <c>text/plain</c> with no version or
/// 0.0.4, or <c>application/openmetrics-text</c> with no version or 1.0.0.
/// Anything else, <c>*/*</c> included, falls back to text 0.0.4, which every
/// scraper and browser reads.
/// </para>
/// </remarks>
public static class MetricsExposition
{
    public const string PrometheusTextContentType = "text/plain; version=0.0.4; charset=utf-8";
    public const string OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    public const string ProtobufContentType = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

    public static ExpositionFormat Negotiate(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept)) return ExpositionFormat.PrometheusText;
        var ranges = new List<(double Q, int Order, ExpositionFormat? Format)>();
        var parts = accept.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            var fields = parts[i].Split(';', StringSplitOptions.TrimEntries);
            string mediaType = fields[0];
            double q = 1;
            string? version = null, proto = null, encoding = null;
            for (var f = 1; f < fields.Length; f++)
            {
                int eq = fields[f].IndexOf('=');
                if (eq <= 0) continue;
                string key = fields[f][..eq].Trim();
                string value = fields[f][(eq + 1)..].Trim().Trim('"');
                if (key.Equals("q", StringComparison.OrdinalIgnoreCase))
                {
                    if (!double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out q)) q = 0;
                }
                else if (key.Equals("version", StringComparison.OrdinalIgnoreCase)) version = value;
                else if (key.Equals("proto", StringComparison.OrdinalIgnoreCase)) proto = value;
                else if (key.Equals("encoding", StringComparison.OrdinalIgnoreCase)) encoding = value;
            }
            if (!(q > 0)) continue;
            ExpositionFormat? format = null;
            if (mediaType.Equals("application/vnd.google.protobuf", StringComparison.OrdinalIgnoreCase)
                && proto == "io.prometheus.client.MetricFamily" && encoding == "delimited")
                format = ExpositionFormat.Protobuf;
            else if (mediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase) && version is null or "0.0.4")
                format = ExpositionFormat.PrometheusText;
            else if (mediaType.Equals("application/openmetrics-text", StringComparison.OrdinalIgnoreCase) && version is null or "1.0.0")
                format = ExpositionFormat.OpenMetrics;
            ranges.Add((q, i, format));
        }
        foreach (var range in ranges.OrderByDescending(r => r.Q).ThenBy(r => r.Order))
            if (range.Format is { } chosen) return chosen;
        return ExpositionFormat.PrometheusText;
    }

    public static string ContentType(ExpositionFormat format) => format switch
    {
        ExpositionFormat.OpenMetrics => OpenMetricsContentType,
        ExpositionFormat.Protobuf => ProtobufContentType,
        _ => PrometheusTextContentType,
    };

    /// <summary>Writes <paramref name="snapshot"/> in <paramref name="format"/>.</summary>
    public static void Write(MetricsSnapshot snapshot, ExpositionFormat format, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(output);
        switch (format)
        {
            case ExpositionFormat.Protobuf:
                foreach (var family in snapshot.Families)
                {
                    var message = ProtobufFormatWriter.ToMetricFamily(family);
                    WriteVarint(output, (uint)message.CalculateSize());
                    message.WriteTo(output);
                }
                break;
            case ExpositionFormat.OpenMetrics:
                TextFormatWriter.Write(snapshot, output, openMetrics: true);
                break;
            default:
                TextFormatWriter.Write(snapshot, output, openMetrics: false);
                break;
        }
    }

    /// <summary>The whole exposition as bytes (tests, tools).</summary>
    public static byte[] ToBytes(MetricsSnapshot snapshot, ExpositionFormat format)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(snapshot, format, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    // The length prefix of a delimited message: base-128 varint, low groups first.
    private static void WriteVarint(IBufferWriter<byte> output, uint value)
    {
        var span = output.GetSpan(5);
        int n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[n++] = (byte)value;
        output.Advance(n);
    }
}
