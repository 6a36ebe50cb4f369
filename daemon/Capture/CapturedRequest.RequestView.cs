using Sonde.Tracing;

namespace Sonde.Capture;

public sealed partial class CapturedRequest
{
    /// <summary>This record as the view aggregators and sinks consume; the spans point into this message.</summary>
    public RequestView AsView() =>
        new(Pid, Tid, Goid, StartNs, DurationNs, Status, Method.Span, Path.Span, Route.Span);
}
