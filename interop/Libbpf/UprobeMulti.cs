using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>
/// Multi-uprobe links (Linux 6.6+): one link attaches a program at many offsets of
/// one file, for one process or all, and its close removes them all with one wait
/// for the kernel's uprobe SRCU grace period (kernel/trace/bpf_trace.c,
/// bpf_uprobe_multi_link_attach and bpf_uprobe_unregister), where closing
/// single perf-event uprobes waits ~110 ms for each. libbpf 1.1 has no wrapper,
/// so the link is made with the bpf() syscall itself.
/// </summary>
internal static unsafe partial class UprobeMulti
{
    // include/uapi/linux/bpf.h: enum bpf_cmd BPF_LINK_CREATE, enum bpf_attach_type
    // BPF_TRACE_UPROBE_MULTI; arch/x86/entry/syscalls/syscall_64.tbl: bpf is 321.
    private const long SysBpf = 321;
    private const long BpfLinkCreate = 28;
    internal const uint AttachType = 48;

    /// <summary>
    /// union bpf_attr's link_create with its uprobe_multi member: prog_fd,
    /// target_fd, attach_type, flags, then path, offsets, ref_ctr_offsets, cookies
    /// (user pointers), cnt, flags, pid.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct LinkCreateAttr
    {
        public uint ProgFd;
        public uint TargetFd;
        public uint AttachType;
        public uint Flags;
        public ulong Path;
        public ulong Offsets;
        public ulong RefCtrOffsets;
        public ulong Cookies;
        public uint Cnt;
        public uint MultiFlags;
        public uint Pid;
        public uint Pad;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long cmd, void* attr, long size);

    /// <summary>
    /// Attaches <paramref name="progFd"/> (loaded with expected_attach_type
    /// BPF_TRACE_UPROBE_MULTI) at <paramref name="offsets"/> of
    /// <paramref name="path"/>, each with its cookie; for process
    /// <paramref name="pid"/> only (its other processes get no breakpoint), or 0
    /// for all. Returns the link's fd, or -errno.
    /// </summary>
    internal static int Create(int progFd, string path, ReadOnlySpan<ulong> offsets, ReadOnlySpan<ulong> cookies, int pid)
    {
        if (offsets.Length == 0 || offsets.Length != cookies.Length) throw new ArgumentException("one cookie per offset, at least one offset");
        byte[] pathz = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = pathz)
        fixed (ulong* o = offsets)
        fixed (ulong* c = cookies)
        {
            var attr = new LinkCreateAttr
            {
                ProgFd = (uint)progFd,
                AttachType = AttachType,
                Path = (ulong)p,
                Offsets = (ulong)o,
                Cookies = (ulong)c,
                Cnt = (uint)offsets.Length,
                Pid = (uint)pid,
            };
            long fd = syscall(SysBpf, BpfLinkCreate, &attr, sizeof(LinkCreateAttr));
            return fd >= 0 ? (int)fd : -Marshal.GetLastPInvokeError();
        }
    }
}

/// <summary>Owns a BPF link's fd (a link made without libbpf): closing it detaches the probes.</summary>
public sealed class BpfLinkFd : SafeHandle
{
    public BpfLinkFd() : base(-1, ownsHandle: true) { }
    internal BpfLinkFd(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);
    public override bool IsInvalid => handle == -1;
    protected override bool ReleaseHandle() => Sonde.Interop.LibC.LibCNative.close((int)handle) == 0;
}
