using System.Buffers;

namespace Sonde.Metrics;

/// <summary>
/// The two text exposition formats: Prometheus text 0.0.4 and OpenMetrics
/// 1.0.0. They differ in a few places, all here:
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Metadata: 0.0.4 writes <c># HELP</c> then <c># TYPE</c> under the
/// sample name (a counter's with <c>_total</c>); OpenMetrics writes
/// <c># TYPE</c>, <c># UNIT</c>, <c># HELP</c> (its recommended order) under
/// the family name (a counter's without <c>_total</c>).</item>
/// <item>Escaping: 0.0.4 escapes <c>\</c> and line feeds in HELP, and also
/// <c>"</c> in label values; OpenMetrics escapes all three in both
/// ("escaped-string" in its ABNF).</item>
/// <item>OpenMetrics ends with <c># EOF</c>. Sonde writes no <c>_created</c>
/// samples: Prometheus before 2.50 ingests them as separate series, one more
/// per counter and histogram series, and nothing reads them.</item>
/// </list>
/// Histograms: the classic buckets only, cumulative, the <c>+Inf</c> bucket
/// equal to <c>_count</c>; the native buckets have no text form.
/// </remarks>
internal static class TextFormatWriter
{
    public static void Write(MetricsSnapshot snapshot, IBufferWriter<byte> buffer, bool openMetrics)
    {
        var output = new Utf8Output(buffer);
        foreach (var familySnapshot in snapshot.Families)
        {
            var family = familySnapshot.Family;
            string sampleName = family.Type == MetricType.Counter ? family.Name + "_total" : family.Name;
            string type = family.Type switch
            {
                MetricType.Counter => "counter",
                MetricType.Gauge => "gauge",
                _ => "histogram",
            };
            if (openMetrics)
            {
                Meta(output, "TYPE", family.Name, type, escape: false);
                if (family.Unit.Length > 0) Meta(output, "UNIT", family.Name, family.Unit, escape: false);
                Meta(output, "HELP", family.Name, family.Help, escape: true, quotes: true);
            }
            else
            {
                Meta(output, "HELP", sampleName, family.Help, escape: true, quotes: false);
                Meta(output, "TYPE", sampleName, type, escape: false);
            }

            string bucketName = family.Name + "_bucket", sumName = family.Name + "_sum", countName = family.Name + "_count";
            foreach (var series in familySnapshot.Series)
            {
                if (series.Histogram is { } h)
                {
                    long cumulative = 0;
                    for (var i = 0; i < h.Bounds.Count; i++)
                    {
                        cumulative += h.BucketCounts[i];
                        Sample(output, bucketName, family.LabelNames, series.LabelValues, h.BoundLabels[i]);
                        output.Write(cumulative);
                        output.Write('\n');
                    }
                    Sample(output, bucketName, family.LabelNames, series.LabelValues, "+Inf");
                    output.Write(h.Count);
                    output.Write('\n');
                    Sample(output, sumName, family.LabelNames, series.LabelValues, null);
                    output.WriteNumber(h.Sum);
                    output.Write('\n');
                    Sample(output, countName, family.LabelNames, series.LabelValues, null);
                    output.Write(h.Count);
                    output.Write('\n');
                }
                else
                {
                    Sample(output, sampleName, family.LabelNames, series.LabelValues, null);
                    output.WriteNumber(series.Value);
                    output.Write('\n');
                }
            }
        }
        if (openMetrics) output.Write("# EOF\n");
    }

    private static void Meta(Utf8Output output, string keyword, string name, string text, bool escape, bool quotes = false)
    {
        output.Write("# ");
        output.Write(keyword);
        output.Write(' ');
        output.Write(name);
        output.Write(' ');
        if (escape) output.WriteEscaped(text, quotes);
        else output.Write(text);
        output.Write('\n');
    }

    /// <summary>Writes <c>name{labels,le="…"} </c>, leaving the value to the caller.</summary>
    private static void Sample(Utf8Output output, string name, IReadOnlyList<string> labelNames, IReadOnlyList<string> labelValues, string? le)
    {
        output.Write(name);
        if (labelNames.Count > 0 || le is not null)
        {
            output.Write('{');
            for (var i = 0; i < labelNames.Count; i++)
            {
                if (i > 0) output.Write(',');
                output.Write(labelNames[i]);
                output.Write("=\"");
                output.WriteEscaped(labelValues[i], quotes: true);
                output.Write('"');
            }
            if (le is not null)
            {
                if (labelNames.Count > 0) output.Write(',');
                output.Write("le=\"");
                output.Write(le);
                output.Write('"');
            }
            output.Write('}');
        }
        output.Write(' ');
    }
}
