using System.Runtime.InteropServices;

namespace Sonde.Interop.LibC;

/// <summary>
/// A file's (device, inode): how Sonde tells whether two paths (an --exe
/// argument and /proc/PID/exe) are the same executable. stat() follows links.
/// </summary>
public readonly partial record struct FileIdentity(ulong Device, ulong Inode)
{
    public static unsafe bool TryOf(string path, out FileIdentity id)
    {
        // struct stat on x86-64 glibc is 144 bytes: st_dev at 0, st_ino at 8.
        byte* buf = stackalloc byte[256];
        if (Native.stat(path, buf) != 0)
        {
            id = default;
            return false;
        }
        id = new FileIdentity(*(ulong*)buf, *(ulong*)(buf + 8));
        return true;
    }

    private static unsafe partial class Native
    {
        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int stat(string path, byte* buf);
    }
}
