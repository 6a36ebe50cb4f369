using System.Runtime.InteropServices;

namespace Sonde.Tests.Support;

internal static partial class Posix
{
    public const int SIGINT = 2, SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int KillNative(int pid, int sig);

    public static void Kill(int pid, int sig) => KillNative(pid, sig);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static unsafe partial int SchedSetAffinity(int pid, nuint size, ulong* mask);

    /// <summary>Pins the calling thread to one CPU (below 1024).</summary>
    public static unsafe void PinThisThread(int cpu)
    {
        if (cpu is < 0 or >= 1024) throw new ArgumentOutOfRangeException(nameof(cpu));
        ulong* mask = stackalloc ulong[16];
        for (int i = 0; i < 16; i++) mask[i] = 0;
        mask[cpu / 64] = 1UL << (cpu % 64);
        if (SchedSetAffinity(0, 16 * sizeof(ulong), mask) != 0)
            throw new InvalidOperationException($"sched_setaffinity(CPU {cpu}): errno {Marshal.GetLastPInvokeError()}");
    }
}
