namespace Sonde.Metrics;

/// <summary>What a <see cref="MetricFamily"/> measures, which decides how it is exposed.</summary>
public enum MetricType
{
    /// <summary>A cumulative count that only grows (until the process restarts).</summary>
    Counter,
    /// <summary>A value that goes up and down.</summary>
    Gauge,
    /// <summary>A distribution: classic buckets and a native (exponential) histogram at once.</summary>
    Histogram,
}
