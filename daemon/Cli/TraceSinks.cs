using Sonde.Aggregation;
using Sonde.Capture;
using Sonde.Tracing;

namespace Sonde.Cli;

/// <summary>
/// What `sonde trace` does with each request: aggregate it, and optionally
/// write it as a JSON line and into a capture. Runs on the consumer loop.
/// </summary>
internal sealed class TraceSinks(RouteTable routes, JsonRequestWriter? json, CaptureWriter? capture) : IRequestSink
{
    private long _count;
    private int _lastPid = -1;
    private readonly HashSet<int> _seenPids = new();

    /// <summary>Requests seen so far (read by the status line on another thread).</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>Called the first time a pid produces a request (--exe picks up new processes).</summary>
    public Action<int>? NewPid { get; init; }

    /// <summary>Output is flushed from the consumer loop only: the writers are single-threaded.</summary>
    public void OnBatchEnd() => json?.FlushIfDue();

    public void OnRequest(in RequestView request)
    {
        routes.Add(request);
        json?.Write(request);
        capture?.Write(request);
        Volatile.Write(ref _count, _count + 1);
        if (request.Pid != _lastPid)
        {
            _lastPid = request.Pid;
            if (_seenPids.Add(request.Pid)) NewPid?.Invoke(request.Pid);
        }
    }
}
