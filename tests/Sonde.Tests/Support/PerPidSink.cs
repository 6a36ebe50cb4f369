using System.Collections.Concurrent;
using Sonde.Service;
using Sonde.Tracing;

namespace Sonde.Tests.Support;

/// <summary>Counts a pipeline's requests by pid and by service.</summary>
public sealed class PerPidSink : IServiceRequestSink
{
    public readonly ConcurrentDictionary<int, long> Counts = new();
    public readonly ConcurrentDictionary<string, long> Services = new();

    public void OnRequest(string service, in RequestView request)
    {
        Counts.AddOrUpdate(request.Pid, 1, static (_, n) => n + 1);
        Services.AddOrUpdate(service, 1, static (_, n) => n + 1);
    }
}
