using System.Runtime.InteropServices;

namespace Sonde.Interop.LibC;

/// <summary>errno values and their descriptions.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EAGAIN = 11, ENOMEM = 12, EACCES = 13,
        EINVAL = 22, ENOSPC = 28, ENOSYS = 38, EOPNOTSUPP = 95, ENOTSUPP = 524;

    /// <summary>"EPERM (Operation not permitted)".</summary>
    public static string Describe(int errno)
    {
        string name = errno switch
        {
            EPERM => "EPERM", ENOENT => "ENOENT", ESRCH => "ESRCH", EINTR => "EINTR", EAGAIN => "EAGAIN",
            ENOMEM => "ENOMEM", EACCES => "EACCES", EINVAL => "EINVAL", ENOSPC => "ENOSPC",
            ENOSYS => "ENOSYS", EOPNOTSUPP => "EOPNOTSUPP", ENOTSUPP => "ENOTSUPP", _ => $"errno {errno}",
        };
        // ENOTSUPP (524) is kernel-internal; libc has no text for it.
        string text = errno == ENOTSUPP ? "operation not supported by this kernel"
            : Marshal.PtrToStringUTF8(LibCNative.strerror(errno)) ?? "unknown error";
        return $"{name} ({text})";
    }
}
