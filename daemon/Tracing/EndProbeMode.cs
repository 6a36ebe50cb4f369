namespace Sonde.Tracing;

/// <summary>Where a request's end is caught.</summary>
public enum EndProbeMode
{
    /// <summary>Call sites where possible, else RETs.</summary>
    Auto,
    /// <summary>
    /// The first emulated instruction after each call of ServeHTTP in net/http:
    /// one cheap hit per request.
    /// </summary>
    CallSite,
    /// <summary>Every RET of ServeHTTP: always possible, but each hit is single-stepped.</summary>
    Ret,
}
