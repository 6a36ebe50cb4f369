using Sonde.Interop.Libbpf;
using Sonde.Tracing;

namespace Sonde.Service;

/// <summary>
/// An executable `sonde run` traces: its probe plan and offsets (a `configs` slot),
/// and, once an `exe` or `process` target matched one of its processes, probes
/// for every process of the file, with the traced ones chosen by the BPF `tgids`
/// map: a process of it starting or exiting then costs a map update, not probes,
/// and is traced from its first instruction. Processes that `pids`, `port` and
/// `unit` targets match get probes of their own instead (TracedProcess.Links),
/// so the file's other processes take no breakpoint.
/// </summary>
public sealed class TracedBinary(string exe, ProbePlan plan, int configIndex)
{
    public string Exe { get; } = exe;
    public ProbePlan Plan { get; } = plan;
    public int ConfigIndex { get; } = configIndex;
    /// <summary>The probes for every process of the file; empty until a target asks for them.</summary>
    public List<BpfLink> Links { get; } = [];
    public HashSet<int> Pids { get; } = new();
    /// <summary>Traced with the newest known layout for a newer Go without DWARF: its processes' first requests are checked.</summary>
    public bool LayoutUnverified { get; init; }
    /// <summary>When the last traced process of this file went away (Environment.TickCount64), or 0.</summary>
    public long UnusedSince { get; set; }
    /// <summary>The inotify watch on the file's writes (TracingPipeline), or -1.</summary>
    public int Watch { get; set; } = -1;
}
