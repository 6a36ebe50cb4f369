using Sonde.Tracing;

namespace Sonde.Service;

/// <summary>Where `sonde run` sends each request, with the service it belongs to. Called on the consumer loop.</summary>
public interface IServiceRequestSink
{
    void OnRequest(string service, in RequestView request);
}
