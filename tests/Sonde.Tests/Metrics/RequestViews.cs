using System.Text;
using Sonde.Tracing;

namespace Sonde.Tests.Metrics;

/// <summary>Requests for the metrics tests, as the ring buffer would hand them over (UTF-8 spans).</summary>
public sealed class RequestViews
{
    private readonly byte[] _method, _path, _route;
    private readonly int _status;

    public RequestViews(string method, string path, string? route, int status)
    {
        _method = Encoding.UTF8.GetBytes(method);
        _path = Encoding.UTF8.GetBytes(path);
        _route = route is null ? [] : Encoding.UTF8.GetBytes(route);
        _status = status;
    }

    public RequestView View(ulong durationNs) => new(4242, 4243, 7, 1_000, durationNs, _status, _method, _path, _route);
}
