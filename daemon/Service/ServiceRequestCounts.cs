using System.Collections.Concurrent;
using Sonde.Tracing;

namespace Sonde.Service;

/// <summary>Requests counted per service: the simplest sink, for tests and status.</summary>
public sealed class ServiceRequestCounts : IServiceRequestSink
{
    private readonly ConcurrentDictionary<string, long> _counts = new();

    public IReadOnlyDictionary<string, long> Counts => _counts;

    public void OnRequest(string service, in RequestView request) => _counts.AddOrUpdate(service, 1, static (_, n) => n + 1);
}
