using System.Runtime.InteropServices;

namespace Sonde.Tracing;

/// <summary>
/// struct sonde_inflight_head of bpf/http.h, the first bytes of a request's
/// in-flight entry: enough to find what an exited process left in flight.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct InflightHead
{
    /// <summary>The process, as Sonde sees it (its pid namespace).</summary>
    public uint NsTgid;
    /// <summary>Its binary's config slot.</summary>
    public uint Config;
    /// <summary>CLOCK_MONOTONIC at the request's start.</summary>
    public ulong StartNs;
}

/// <summary>struct inflight_key of bpf/http.bpf.c: the goroutine (its g) and its process (the kernel's tgid).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct InflightKey
{
    public ulong G;
    public uint Tgid;
    public uint Pad;
}
