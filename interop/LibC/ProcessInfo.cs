using System.Runtime.InteropServices;

namespace Sonde.Interop.LibC;

/// <summary>Process-level libc facts: identity and liveness.</summary>
public static class ProcessInfo
{
    public static bool IsRoot => LibCNative.geteuid() == 0;

    /// <summary>kill(pid, 0): true if the process exists (EPERM also means it exists).</summary>
    public static bool Exists(int pid)
    {
        if (pid <= 0) return false;
        if (LibCNative.kill(pid, 0) == 0) return true;
        return Marshal.GetLastPInvokeError() == Errno.EPERM;
    }
}
