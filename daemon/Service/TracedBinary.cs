using Sonde.Interop.Libbpf;
using Sonde.Tracing;

namespace Sonde.Service;

/// <summary>
/// An executable `sonde run` has probes on: attached once for every process
/// of the file (pid -1), with the traced processes chosen by the BPF `tgids`
/// map, so a process starting or exiting costs a map update, not probes.
/// </summary>
public sealed class TracedBinary(string exe, ProbePlan plan, int configIndex, IReadOnlyList<BpfLink> links)
{
    public string Exe { get; } = exe;
    public ProbePlan Plan { get; } = plan;
    public int ConfigIndex { get; } = configIndex;
    public IReadOnlyList<BpfLink> Links { get; } = links;
    public HashSet<int> Pids { get; } = new();
    /// <summary>Traced with the newest known layout for a newer Go without DWARF: its processes' first requests are checked.</summary>
    public bool LayoutUnverified { get; init; }
    /// <summary>When the last traced process of this file went away (Environment.TickCount64), or 0.</summary>
    public long UnusedSince { get; set; }
    /// <summary>The inotify watch on the file's writes (TracingPipeline), or -1.</summary>
    public int Watch { get; set; } = -1;
}
