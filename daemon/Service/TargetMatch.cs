using Sonde.Config;
using Sonde.Discovery;

namespace Sonde.Service;

/// <summary>Which configured selector, if any, a process matches; the first match wins.</summary>
public static class TargetMatch
{
    /// <summary>The selector <paramref name="pid"/> matches and its service name, or null.</summary>
    public static (TargetSelector Selector, string Service)? Find(IReadOnlyList<TargetSelector> selectors, int pid, string exe)
    {
        string? comm = null, unit = null;
        IReadOnlySet<int>? ports = null;
        foreach (var s in selectors)
        {
            bool match = s.Kind switch
            {
                TargetKind.Exe => s.Exe is not null && Glob(s.Exe).IsMatch(exe),
                TargetKind.Process => s.Process == (comm ??= ProcessFacts.Comm(pid)),
                TargetKind.Port => s.Port is { } port && (ports ??= ProcessFacts.ListeningPorts(pid)).Contains(port),
                TargetKind.Unit => s.Unit is not null && UnitName(s.Unit) == (unit ??= ProcessFacts.SystemdUnit(pid)),
                TargetKind.Pids => s.Pids?.Contains(pid) == true,
                _ => false,
            };
            if (match) return (s, s.Service ?? s.ServiceName ?? Path.GetFileName(exe));
        }
        return null;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, PathGlob> s_globs = new();
    private static PathGlob Glob(string pattern) => s_globs.GetOrAdd(pattern, PathGlob.Parse);

    private static string UnitName(string unit) => unit.Contains('.') ? unit : unit + ".service";
}
