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

    /// <summary>Processes whose binary is traced with an unverified layout; their first requests are checked.</summary>
    public Func<int, bool>? Unverified { get; init; }

    /// <summary>Called, once, when an unverified layout proves wrong; its requests are not recorded.</summary>
    public Action<string>? LayoutMismatch { get; init; }

    /// <summary>What was wrong with an unverified layout, or null.</summary>
    public string? LayoutProblem { get; private set; }

    private readonly LayoutCheck _check = new();

    /// <summary>Output is flushed from the consumer loop only: the writers are single-threaded.</summary>
    public void OnBatchEnd() => json?.FlushIfDue();

    public void OnRequest(in RequestView request)
    {
        if (Unverified is not null && Unverified(request.Pid))
        {
            if (LayoutProblem is not null) return;
            if (_check.Observe(request) is { } problem)
            {
                LayoutProblem = problem;
                LayoutMismatch?.Invoke(problem);
                return;
            }
        }
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
