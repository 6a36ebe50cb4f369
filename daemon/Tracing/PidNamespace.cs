using System.Runtime.InteropServices;
using Sonde.Interop.Libbpf;
using Sonde.Interop.LibC;

namespace Sonde.Tracing;

/// <summary>
/// struct sonde_pidns of bpf/pidns.bpf.h: Sonde's own pid namespace, so BPF
/// reports pids as Sonde's /proc numbers them (bpf_get_ns_current_pid_tgid).
/// Left disabled in the root namespace, where the two agree.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct PidNamespace
{
    /// <summary>PROC_PID_INIT_INO (include/linux/proc_ns.h): the root pid namespace's inode.</summary>
    private const ulong RootInode = 0xEFFFFFFC;

    public ulong Dev;
    public ulong Ino;
    public uint Enabled;
    public uint Pad;

    public static PidNamespace Current()
    {
        if (!FileIdentity.TryOf("/proc/self/ns/pid", out var id))
            throw new TraceException("cannot stat /proc/self/ns/pid: is /proc mounted?");
        return new PidNamespace { Dev = id.Device, Ino = id.Inode, Enabled = id.Inode == RootInode ? 0u : 1u };
    }

    /// <summary>Writes this namespace into a BPF object's `pidns` map (before its programs run).</summary>
    public static void Configure(BpfObject loaded) => loaded.Map("pidns").Update(0u, Current());
}
