using Sonde.Interop.LibC;

namespace Sonde.Tests.Support;

/// <summary>
/// A test that loads BPF programs into the kernel: skipped, with the reason,
/// when not running as root or when the kernel lacks what it needs. On the
/// project's machines (root, BPF works) it runs.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!ProcessInfo.IsRoot) Skip = "needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE) to load BPF programs";
        else if (!File.Exists("/sys/kernel/btf/vmlinux")) Skip = "kernel has no BTF (/sys/kernel/btf/vmlinux)";
        else if (!File.Exists("/sys/bus/event_source/devices/uprobe/type")) Skip = "kernel has no uprobe PMU";
    }
}
