using System.Runtime.InteropServices;

namespace Sonde.Tests.Support;

internal static partial class Posix
{
    public const int SIGINT = 2, SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int KillNative(int pid, int sig);

    public static void Kill(int pid, int sig) => KillNative(pid, sig);
}
