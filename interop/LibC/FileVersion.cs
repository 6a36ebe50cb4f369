using System.Runtime.InteropServices;

namespace Sonde.Interop.LibC;

/// <summary>
/// A file's identity and the version of its content: (device, inode), and the
/// size, modification and change times that a rewrite in place changes, as does
/// another file that was given the same inode number once the first was freed
/// (ext4 reuses them). What Sonde keys an executable's analysis by: the same
/// (device, inode) with another version is another program.
/// </summary>
public readonly partial record struct FileVersion(FileIdentity Id, long Size, long MtimeNs, long CtimeNs)
{
    public static unsafe bool TryOf(string path, out FileVersion version)
    {
        // struct stat on x86-64 (glibc, the kernel's arch/x86/include/uapi/asm/stat.h):
        // st_dev 0, st_ino 8, st_size 48, st_mtim 88 and st_ctim 104 (timespec: sec, nsec), 144 bytes.
        byte* buf = stackalloc byte[256];
        if (Native.stat(path, buf) != 0)
        {
            version = default;
            return false;
        }
        static long Ns(byte* at) => *(long*)at * 1_000_000_000L + *(long*)(at + 8);
        version = new FileVersion(new FileIdentity(*(ulong*)buf, *(ulong*)(buf + 8)), *(long*)(buf + 48), Ns(buf + 88), Ns(buf + 104));
        return true;
    }

    private static unsafe partial class Native
    {
        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int stat(string path, byte* buf);
    }
}
