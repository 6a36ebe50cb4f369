using Google.Protobuf;
using Sonde.Metrics.Proto.Prometheus;

namespace Sonde.Tests.Metrics;

/// <summary>Reads a protobuf scrape back with the generated types, and expands native buckets.</summary>
public static class ScrapeParsing
{
    public static List<MetricFamily> ParseDelimited(byte[] body)
    {
        var families = new List<MetricFamily>();
        using var stream = new MemoryStream(body);
        while (stream.Position < stream.Length) families.Add(MetricFamily.Parser.ParseDelimitedFrom(stream));
        return families;
    }

    /// <summary>Native positive buckets as index → count, from spans and deltas (checks the encoding's invariants).</summary>
    public static SortedDictionary<int, long> NativeBuckets(Histogram h)
    {
        var buckets = new SortedDictionary<int, long>();
        int index = 0, delta = 0;
        long count = 0;
        for (var s = 0; s < h.PositiveSpan.Count; s++)
        {
            var span = h.PositiveSpan[s];
            index += span.Offset;
            if (s > 0) Assert.True(span.Offset >= 0, "only the first span may have a negative offset");
            for (var i = 0; i < span.Length; i++)
            {
                count += h.PositiveDelta[delta++];
                Assert.True(count >= 0, "deltas must never give a negative bucket count");
                if (count != 0) buckets[index] = count;
                index++;
            }
        }
        Assert.Equal(h.PositiveDelta.Count, delta);
        return buckets;
    }
}
