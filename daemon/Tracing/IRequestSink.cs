namespace Sonde.Tracing;

/// <summary>Receives each completed request, in place. Must not keep the view.</summary>
public interface IRequestSink
{
    void OnRequest(in RequestView request);

    /// <summary>
    /// After each batch of requests, and at least every 100 ms while idle, on
    /// the consumer loop: the place to flush buffered output.
    /// </summary>
    void OnBatchEnd() { }
}
