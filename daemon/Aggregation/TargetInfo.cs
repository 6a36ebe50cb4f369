using System.Collections.Frozen;

namespace Sonde.Aggregation;

/// <summary>
/// One traced process as the capture header and the summary name it: pid,
/// executable, and what <c>.go.buildinfo</c> says built it.
/// </summary>
/// <param name="Pid">Process id at capture time.</param>
/// <param name="ExePath">Executable path (<c>/proc/PID/exe</c>).</param>
/// <param name="GoVersion">Go toolchain version (e.g. <c>go1.19.8</c>); null when unknown.</param>
public sealed record TargetInfo(int Pid, string ExePath, string? GoVersion)
{
    /// <summary>Module path → version (e.g. <c>github.com/gin-gonic/gin</c> → <c>v1.8.1</c>); empty when unknown.</summary>
    public IReadOnlyDictionary<string, string> Modules { get; init; } = FrozenDictionary<string, string>.Empty;
}
