using Sonde.Tracing;

namespace Sonde.Config;

/// <summary>The <c>tracing</c> section: how probes are placed and events carried.</summary>
public sealed record TracingConfig
{
    /// <summary>Ring buffer size in MiB, a power of two from 1 to 1024 (8 MiB holds about 25,000 requests).</summary>
    public int RingbufMib { get; init; } = 8;

    /// <summary><c>auto</c>, <c>callsite</c> or <c>ret</c>: where a request's end is caught (see `sonde trace --help`).</summary>
    public EndProbeMode EndProbe { get; init; } = EndProbeMode.Auto;

    /// <summary>Requests in flight at the same time, over all traced processes; a request beyond is counted as lost (inflight_full).</summary>
    public int MaxInFlight { get; init; } = (int)HttpTracer.DefaultMaxInflight;

    /// <summary>Distinct executables traced at the same time; an idle one gives its slot up when they are all taken.</summary>
    public int MaxExecutables { get; init; } = HttpTracer.DefaultMaxBinaries;

    /// <summary>Split each request's latency by cause (on CPU, runqueue, network, disk, lock, GC...).</summary>
    public bool Breakdown { get; init; } = true;

    /// <summary>With the breakdown, each request's outgoing HTTP calls (net/http's client): 3 more probe hits per call, up to 8 on a new connection, so off by default.</summary>
    public bool Calls { get; init; }
}
