using System.Runtime.InteropServices;

namespace Sonde.Interop.LibC;

/// <summary>
/// An epoll instance watching fds for readability, with an eventfd so another
/// thread can interrupt a wait (<see cref="Wake"/>). Owns both fds.
/// </summary>
public sealed unsafe class Epoll : SafeHandle
{
    private readonly int _wakeFd;

    private Epoll(int epfd, int wakeFd) : base(-1, ownsHandle: true)
    {
        SetHandle(epfd);
        _wakeFd = wakeFd;
    }

    public override bool IsInvalid => handle == -1;

    public static Epoll Create()
    {
        int ep = LibCNative.epoll_create1(LibCNative.EPOLL_CLOEXEC);
        if (ep < 0) throw new NativeCallException("epoll_create1", Marshal.GetLastPInvokeError());
        const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
        int efd = LibCNative.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
        {
            int e = Marshal.GetLastPInvokeError();
            LibCNative.close(ep);
            throw new NativeCallException("eventfd", e);
        }
        var epoll = new Epoll(ep, efd);
        epoll.Add(efd, ulong.MaxValue);
        return epoll;
    }

    /// <summary>
    /// Watches <paramref name="fd"/> for EPOLLIN; <paramref name="token"/> comes back from <see cref="Wait"/>.
    /// Edge-triggered: a wait returns when the fd's wait queue is woken, not
    /// whenever it is readable (a BPF ring buffer is readable as long as it
    /// holds a record; its producer decides when to wake).
    /// </summary>
    public void Add(int fd, ulong token, bool edgeTriggered = false)
    {
        var ev = new LibCNative.EpollEvent { Events = LibCNative.EPOLLIN | (edgeTriggered ? LibCNative.EPOLLET : 0), Data = token };
        if (LibCNative.epoll_ctl((int)handle, LibCNative.EPOLL_CTL_ADD, fd, &ev) < 0)
            throw new NativeCallException("epoll_ctl", Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (-1: forever). Returns true when
    /// a watched fd is readable, false on timeout or <see cref="Wake"/>. EINTR is a timeout.
    /// </summary>
    public bool Wait(int timeoutMs)
    {
        LibCNative.EpollEvent* evs = stackalloc LibCNative.EpollEvent[4];
        int n = LibCNative.epoll_wait((int)handle, evs, 4, timeoutMs);
        if (n < 0)
        {
            int e = Marshal.GetLastPInvokeError();
            if (e == LibCNative.EINTR) return false;
            throw new NativeCallException("epoll_wait", e);
        }
        bool readable = false;
        for (int i = 0; i < n; i++)
        {
            if (evs[i].Data == ulong.MaxValue)
            {
                ulong drain;
                LibCNative.read(_wakeFd, &drain, sizeof(ulong));
            }
            else readable = true;
        }
        return readable;
    }

    /// <summary>Interrupts a <see cref="Wait"/> on another thread.</summary>
    public void Wake()
    {
        ulong one = 1;
        LibCNative.write(_wakeFd, &one, sizeof(ulong));
    }

    protected override bool ReleaseHandle()
    {
        LibCNative.close(_wakeFd);
        return LibCNative.close((int)handle) == 0;
    }
}
