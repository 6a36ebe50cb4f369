using System.Runtime.InteropServices;

namespace Sonde.Interop.LibC;

/// <summary>
/// An inotify instance (inotify(7)): watches files, by inode, for writes to
/// their content. <see cref="Read"/> waits (poll) for events and returns the
/// watch descriptors that fired.
/// </summary>
public sealed unsafe partial class Inotify : IDisposable
{
    // linux/inotify.h
    public const uint IN_MODIFY = 0x2, IN_CLOSE_WRITE = 0x8, IN_IGNORED = 0x8000;
    private const int IN_CLOEXEC = 0x80000, IN_NONBLOCK = 0x800;
    private const short POLLIN = 1;
    private readonly int _fd;

    private Inotify(int fd) => _fd = fd;

    public static Inotify Create()
    {
        int fd = Native.inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd < 0) throw new NativeCallException("inotify_init1", Marshal.GetLastPInvokeError());
        return new Inotify(fd);
    }

    /// <summary>Watches the file <paramref name="path"/> resolves to (a /proc/PID/exe link: its inode); the same inode gives the same descriptor.</summary>
    public int Watch(string path, uint mask)
    {
        int wd = Native.inotify_add_watch(_fd, path, mask);
        if (wd < 0) throw new NativeCallException("inotify_add_watch " + path, Marshal.GetLastPInvokeError());
        return wd;
    }

    public void Unwatch(int wd) => Native.inotify_rm_watch(_fd, wd);

    /// <summary>Waits up to <paramref name="timeoutMs"/> for events; returns (watch descriptor, mask) of each.</summary>
    public List<(int Wd, uint Mask)> Read(int timeoutMs)
    {
        var events = new List<(int, uint)>();
        var pfd = new PollFd { Fd = _fd, Events = POLLIN };
        if (Native.poll(&pfd, 1, timeoutMs) <= 0) return events;
        byte* buf = stackalloc byte[4096];
        while (true)
        {
            nint n = Native.read(_fd, buf, 4096);
            if (n <= 0) return events;
            // struct inotify_event: int wd, uint32 mask, cookie, len, then len bytes of name.
            for (nint at = 0; at + 16 <= n;)
            {
                int wd = *(int*)(buf + at);
                uint mask = *(uint*)(buf + at + 4), len = *(uint*)(buf + at + 12);
                events.Add((wd, mask));
                at += 16 + (nint)len;
            }
        }
    }

    public void Dispose() => Native.close(_fd);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events, Revents;
    }

    private static partial class Native
    {
        [LibraryImport("libc", SetLastError = true)]
        internal static partial int inotify_init1(int flags);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int inotify_add_watch(int fd, string path, uint mask);

        [LibraryImport("libc", SetLastError = true)]
        internal static partial int inotify_rm_watch(int fd, int wd);

        [LibraryImport("libc", SetLastError = true)]
        internal static partial int poll(PollFd* fds, nuint nfds, int timeout);

        [LibraryImport("libc", SetLastError = true)]
        internal static partial nint read(int fd, void* buf, nuint count);

        [LibraryImport("libc")]
        internal static partial int close(int fd);
    }
}
