namespace Sonde.Tracing;

/// <summary>Receives each completed request, in place. Must not keep the view.</summary>
public interface IRequestSink
{
    void OnRequest(in RequestView request);
}
