using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Sonde.Metrics.Proto.Prometheus;
using PromFamily = Sonde.Metrics.Proto.Prometheus.MetricFamily;
using PromHistogram = Sonde.Metrics.Proto.Prometheus.Histogram;
using PromMetricType = Sonde.Metrics.Proto.Prometheus.MetricType;

namespace Sonde.Metrics;

/// <summary>
/// The Prometheus protobuf exposition format: length-delimited
/// <c>io.prometheus.client.MetricFamily</c> messages (Proto/prometheus_metrics.proto).
/// A histogram carries its classic buckets and its native buckets in the same
/// message, so a Prometheus that ingests native histograms and one that
/// ingests classic ones read the same scrape.
/// </summary>
/// <remarks>
/// Names follow client_golang's protobuf output: a counter family is named
/// with its <c>_total</c> suffix; the +Inf classic bucket is left out (the
/// count stands for it, as the schema allows).
/// </remarks>
internal static class ProtobufFormatWriter
{
    /// <summary>
    /// Gaps of up to this many empty native buckets are sent as zero deltas
    /// rather than as a new span: an empty bucket costs one byte (a zero
    /// varint), a span at least four. Both forms are equivalent
    /// (prometheus/docs, docs/specs/native_histograms.md, "Buckets", examples).
    /// </summary>
    private const int MaxFilledGap = 2;

    public static void Write(MetricsSnapshot snapshot, Stream output)
    {
        foreach (var family in snapshot.Families) ToMetricFamily(family).WriteDelimitedTo(output);
    }

    public static PromFamily ToMetricFamily(FamilySnapshot snapshot)
    {
        var family = snapshot.Family;
        var message = new PromFamily
        {
            Name = family.Type == MetricType.Counter ? family.Name + "_total" : family.Name,
            Help = family.Help,
            Type = family.Type switch
            {
                MetricType.Counter => PromMetricType.Counter,
                MetricType.Gauge => PromMetricType.Gauge,
                _ => PromMetricType.Histogram,
            },
        };
        if (family.Unit.Length > 0) message.Unit = family.Unit;
        foreach (var series in snapshot.Series)
        {
            var metric = new Metric();
            for (var i = 0; i < family.LabelNames.Count; i++)
                metric.Label.Add(new LabelPair { Name = family.LabelNames[i], Value = series.LabelValues[i] });
            switch (family.Type)
            {
                case MetricType.Counter:
                    metric.Counter = new Counter { Value = series.Value, CreatedTimestamp = Timestamp(series.CreatedUnixNano) };
                    break;
                case MetricType.Gauge:
                    metric.Gauge = new Gauge { Value = series.Value };
                    break;
                default:
                    metric.Histogram = ToHistogram(series.Histogram!, series.CreatedUnixNano);
                    break;
            }
            message.Metric.Add(metric);
        }
        return message;
    }

    private static PromHistogram ToHistogram(HistogramSnapshot h, long createdUnixNano)
    {
        var message = new PromHistogram
        {
            SampleCount = (ulong)h.Count,
            SampleSum = h.Sum,
            CreatedTimestamp = Timestamp(createdUnixNano),
            Schema = h.Schema,
            ZeroThreshold = h.ZeroThreshold,
            ZeroCount = (ulong)h.ZeroCount,
        };
        long cumulative = 0;
        for (var i = 0; i < h.Bounds.Count; i++)
        {
            cumulative += h.BucketCounts[i];
            message.Bucket.Add(new Bucket { UpperBound = h.Bounds[i], CumulativeCount = (ulong)cumulative });
        }

        if (h.NativeIndexes.Count == 0)
        {
            // The specification's marker of a native histogram without observations.
            message.PositiveSpan.Add(new BucketSpan { Offset = 0, Length = 0 });
            return message;
        }
        BucketSpan? span = null;
        long previousCount = 0;
        int previousIndex = 0;
        for (var i = 0; i < h.NativeIndexes.Count; i++)
        {
            int index = h.NativeIndexes[i];
            long count = h.NativeCounts[i];
            if (span is null)
            {
                span = new BucketSpan { Offset = index, Length = 0 };
                message.PositiveSpan.Add(span);
            }
            else
            {
                int gap = index - previousIndex - 1;
                if (gap > MaxFilledGap)
                {
                    span = new BucketSpan { Offset = gap, Length = 0 };
                    message.PositiveSpan.Add(span);
                }
                else
                {
                    for (var g = 0; g < gap; g++)
                    {
                        message.PositiveDelta.Add(-previousCount);
                        previousCount = 0;
                    }
                    span.Length += (uint)gap;
                }
            }
            message.PositiveDelta.Add(count - previousCount);
            span.Length++;
            previousCount = count;
            previousIndex = index;
        }
        return message;
    }

    private static Timestamp Timestamp(long unixNano) =>
        new() { Seconds = unixNano / 1_000_000_000, Nanos = (int)(unixNano % 1_000_000_000) };
}
