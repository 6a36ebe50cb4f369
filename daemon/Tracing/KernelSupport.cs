using System.Globalization;

namespace Sonde.Tracing;

/// <summary>
/// Checks, before anything is loaded, that this process and kernel can trace:
/// each failure names what is missing.
/// </summary>
public static class KernelSupport
{
    // include/uapi/linux/capability.h
    private const int CapSysPtrace = 19, CapSysAdmin = 21, CapPerfmon = 38, CapBpf = 39;

    public static void Check()
    {
        var missing = MissingCapabilities();
        if (missing.Count > 0)
            throw new TraceException($"missing capabilit{(missing.Count == 1 ? "y" : "ies")}: {string.Join(", ", missing)} " +
                "(run as root, or grant CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE)");
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            throw new TraceException("kernel lacks BTF (/sys/kernel/btf/vmlinux is missing): Sonde's BPF programs need CONFIG_DEBUG_INFO_BTF=y");
        if (!File.Exists("/sys/bus/event_source/devices/uprobe/type"))
            throw new TraceException("kernel lacks uprobes (no /sys/bus/event_source/devices/uprobe): Sonde needs CONFIG_UPROBE_EVENTS=y");
    }

    /// <summary>Names of the capabilities Sonde needs that the effective set lacks.</summary>
    public static IReadOnlyList<string> MissingCapabilities()
    {
        ulong eff = EffectiveCapabilities();
        bool Has(int cap) => (eff & (1UL << cap)) != 0;
        var missing = new List<string>();
        bool admin = Has(CapSysAdmin);
        // Kernels >= 5.8 split CAP_BPF and CAP_PERFMON out of CAP_SYS_ADMIN, but
        // since 6.16 (commit ba677dbe77af "perf: Revert to requiring
        // CAP_SYS_ADMIN for uprobes", also in stable kernels) uprobes need
        // CAP_SYS_ADMIN again.
        if (!Has(CapBpf) && !admin) missing.Add("CAP_BPF");
        if (!Has(CapPerfmon) && !admin) missing.Add("CAP_PERFMON");
        if (!admin && UprobesNeedSysAdmin()) missing.Add("CAP_SYS_ADMIN");
        // Reading /proc/PID/exe of another user's process is a ptrace-mode read.
        if (!Has(CapSysPtrace)) missing.Add("CAP_SYS_PTRACE");
        return missing;
    }

    /// <summary>Linux 6.16 and later (and stable kernels with the revert): take 6.16 as the line.</summary>
    private static bool UprobesNeedSysAdmin()
    {
        var v = Environment.OSVersion.Version;
        return v.Major > 6 || (v.Major == 6 && v.Minor >= 16);
    }

    private static ulong EffectiveCapabilities()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return 0;
    }
}
