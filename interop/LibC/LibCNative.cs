using System.Runtime.InteropServices;

namespace Sonde.Interop.LibC;

/// <summary>The few libc calls Sonde needs (glibc, x86-64 Linux ABI).</summary>
internal static unsafe partial class LibCNative
{
    private const string Lib = "libc";

    internal const int PROT_READ = 0x1, PROT_WRITE = 0x2;
    internal const int MAP_SHARED = 0x01;
    internal const int EPOLL_CLOEXEC = 0x80000;
    internal const int EPOLL_CTL_ADD = 1;
    internal const uint EPOLLIN = 0x001;
    internal const uint EPOLLET = 1u << 31;
    internal const int EINTR = 4, EAGAIN = 11;
    internal const int CLOCK_MONOTONIC = 1;

    [LibraryImport(Lib)]
    internal static partial int vsnprintf(byte* buf, nuint size, byte* format, nint args);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int munmap(void* addr, nuint length);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int epoll_create1(int flags);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int eventfd(uint initval, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport(Lib)]
    internal static partial nint strerror(int errnum);

    [LibraryImport(Lib)]
    internal static partial int clock_gettime(int clockId, Timespec* tp);

    [LibraryImport(Lib)]
    internal static partial uint geteuid();

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int kill(int pid, int sig);

    /// <summary>struct epoll_event is packed on x86-64 (12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    internal struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Sec;
        public long Nsec;
    }
}
