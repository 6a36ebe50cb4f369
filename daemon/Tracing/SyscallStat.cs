using System.Runtime.InteropServices;

namespace Sonde.Tracing;

/// <summary>struct sonde_syscall_stat of bpf/http.h: one syscall's totals within a request.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct SyscallStat
{
    public SyscallStat(uint nr, uint count, ulong ns)
    {
        Nr = nr;
        Count = count;
        Ns = ns;
    }

    public readonly uint Nr;
    public readonly uint Count;
    public readonly ulong Ns;
}
