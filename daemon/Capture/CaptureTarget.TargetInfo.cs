using Sonde.Aggregation;

namespace Sonde.Capture;

public sealed partial class CaptureTarget
{
    /// <summary>The header form of a traced process.</summary>
    public static CaptureTarget FromTargetInfo(TargetInfo target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var captured = new CaptureTarget { Pid = target.Pid, ExePath = target.ExePath, GoVersion = target.GoVersion ?? "" };
        foreach (var (module, version) in target.Modules) captured.Modules[module] = version;
        return captured;
    }

    /// <summary>The traced process this header entry describes (an empty Go version reads as unknown).</summary>
    public TargetInfo ToTargetInfo() =>
        new(Pid, ExePath, GoVersion.Length == 0 ? null : GoVersion)
        {
            Modules = new Dictionary<string, string>(Modules, StringComparer.Ordinal),
        };
}
