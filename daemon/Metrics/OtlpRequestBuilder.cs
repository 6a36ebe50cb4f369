using Sonde.Metrics.Proto.Otlp;
using OtlpHistogram = Sonde.Metrics.Proto.Otlp.Histogram;

namespace Sonde.Metrics;

/// <summary>
/// A snapshot as one OTLP <c>ExportMetricsServiceRequest</c>: one
/// ResourceMetrics per <c>service.name</c>, one ScopeMetrics (scope "sonde"),
/// one Metric per family present in that resource; every data point
/// cumulative, starting when its series was created.
/// </summary>
/// <remarks>
/// Counters are monotonic Sums, gauges Gauges, histograms Histograms (classic
/// bounds, per-bucket counts: bounds + 1 of them) or ExponentialHistograms
/// (scale = schema; OTLP's bucket index is the Prometheus index minus one,
/// see Proto/otlp_metrics.proto). Empty label values become absent
/// attributes, as they are absent labels in Prometheus.
/// </remarks>
internal static class OtlpRequestBuilder
{
    private const string ScopeName = "sonde";

    public static ExportMetricsServiceRequest Build(MetricsSnapshot snapshot, OtlpExporterOptions options)
    {
        var resources = new Dictionary<string, ScopeMetrics>(StringComparer.Ordinal);
        var request = new ExportMetricsServiceRequest();

        ScopeMetrics Scope(string service)
        {
            if (resources.TryGetValue(service, out var scope)) return scope;
            var resource = new Resource();
            resource.Attributes.Add(Attribute("service.name", service));
            foreach (var (key, value) in options.ResourceAttributes) resource.Attributes.Add(Attribute(key, value));
            scope = new ScopeMetrics { Scope = new InstrumentationScope { Name = ScopeName, Version = typeof(OtlpRequestBuilder).Assembly.GetName().Version?.ToString(3) ?? "" } };
            request.ResourceMetrics.Add(new ResourceMetrics { Resource = resource, ScopeMetrics = { scope } });
            resources.Add(service, scope);
            return scope;
        }

        foreach (var familySnapshot in snapshot.Families)
        {
            var family = familySnapshot.Family;
            int serviceLabel = IndexOf(family.LabelNames, options.ServiceLabel);
            var attributeNames = family.Otlp?.AttributeNames ?? family.LabelNames;
            var metrics = new Dictionary<string, Metric>(StringComparer.Ordinal);
            foreach (var series in familySnapshot.Series)
            {
                string service = serviceLabel >= 0 && series.LabelValues[serviceLabel].Length > 0 ? series.LabelValues[serviceLabel] : options.ServiceName;
                if (!metrics.TryGetValue(service, out var metric))
                {
                    metric = NewMetric(family, options.HistogramKind);
                    Scope(service).Metrics.Add(metric);
                    metrics.Add(service, metric);
                }
                var attributes = new List<KeyValue>(family.LabelNames.Count);
                for (var i = 0; i < family.LabelNames.Count; i++)
                    if (i != serviceLabel && series.LabelValues[i].Length > 0) attributes.Add(Attribute(attributeNames[i], series.LabelValues[i]));
                AddPoint(metric, series, attributes, snapshot.TimeUnixNano);
            }
        }
        return request;
    }

    private static Metric NewMetric(MetricFamily family, OtlpHistogramKind kind)
    {
        var metric = new Metric
        {
            Name = family.Otlp?.Name ?? family.Name,
            Description = family.Help,
            Unit = family.Otlp?.Unit ?? UcumUnit(family.Unit),
        };
        switch (family.Type)
        {
            case MetricType.Counter:
                metric.Sum = new Sum { AggregationTemporality = AggregationTemporality.Cumulative, IsMonotonic = true };
                break;
            case MetricType.Gauge:
                metric.Gauge = new Gauge();
                break;
            default:
                if (kind == OtlpHistogramKind.Exponential)
                    metric.ExponentialHistogram = new ExponentialHistogram { AggregationTemporality = AggregationTemporality.Cumulative };
                else
                    metric.Histogram = new OtlpHistogram { AggregationTemporality = AggregationTemporality.Cumulative };
                break;
        }
        return metric;
    }

    private static void AddPoint(Metric metric, SeriesSnapshot series, List<KeyValue> attributes, long timeUnixNano)
    {
        ulong start = (ulong)series.CreatedUnixNano, now = (ulong)timeUnixNano;
        switch (metric.DataCase)
        {
            case Metric.DataOneofCase.Sum:
                metric.Sum.DataPoints.Add(new NumberDataPoint { StartTimeUnixNano = start, TimeUnixNano = now, AsDouble = series.Value, Attributes = { attributes } });
                break;
            case Metric.DataOneofCase.Gauge:
                metric.Gauge.DataPoints.Add(new NumberDataPoint { StartTimeUnixNano = start, TimeUnixNano = now, AsDouble = series.Value, Attributes = { attributes } });
                break;
            case Metric.DataOneofCase.Histogram:
            {
                var h = series.Histogram!;
                var point = new HistogramDataPoint { StartTimeUnixNano = start, TimeUnixNano = now, Count = (ulong)h.Count, Sum = h.Sum, Attributes = { attributes } };
                point.ExplicitBounds.Add(h.Bounds);
                foreach (var count in h.BucketCounts) point.BucketCounts.Add((ulong)count);
                metric.Histogram.DataPoints.Add(point);
                break;
            }
            case Metric.DataOneofCase.ExponentialHistogram:
            {
                var h = series.Histogram!;
                var point = new ExponentialHistogramDataPoint
                {
                    StartTimeUnixNano = start, TimeUnixNano = now, Count = (ulong)h.Count, Sum = h.Sum,
                    Scale = h.Schema, ZeroCount = (ulong)h.ZeroCount, ZeroThreshold = h.ZeroThreshold,
                    Attributes = { attributes },
                    Positive = new ExponentialHistogramDataPoint.Types.Buckets(),
                };
                if (h.NativeIndexes.Count > 0)
                {
                    int first = h.NativeIndexes[0], last = h.NativeIndexes[^1];
                    point.Positive.Offset = first - 1;
                    var dense = new ulong[last - first + 1];
                    for (var i = 0; i < h.NativeIndexes.Count; i++) dense[h.NativeIndexes[i] - first] = (ulong)h.NativeCounts[i];
                    point.Positive.BucketCounts.Add(dense);
                }
                metric.ExponentialHistogram.DataPoints.Add(point);
                break;
            }
        }
    }

    /// <summary>UCUM spelling of the base units Prometheus names carry (OTLP units are UCUM).</summary>
    private static string UcumUnit(string unit) => unit switch
    {
        "seconds" => "s",
        "bytes" => "By",
        "ratio" => "1",
        _ => unit,
    };

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++) if (names[i] == name) return i;
        return -1;
    }

    private static KeyValue Attribute(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };
}
