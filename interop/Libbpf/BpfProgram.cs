using System.Runtime.InteropServices;
using Sonde.Interop.LibC;

namespace Sonde.Interop.Libbpf;

/// <summary>A program of a loaded <see cref="BpfObject"/>; attaching returns links.</summary>
public sealed unsafe class BpfProgram
{
    private readonly BpfObject _owner;
    private readonly nint _prog;

    internal BpfProgram(BpfObject owner, nint prog, string name)
    {
        _owner = owner;
        _prog = prog;
        Name = name;
    }

    public string Name { get; }

    /// <summary>
    /// Attaches a plain uprobe at <paramref name="fileOffset"/> of the file
    /// (not a virtual address). <paramref name="pid"/> -1 means every process
    /// that maps the file, now and later. Never a return probe: on Go code
    /// uretprobes corrupt moved goroutine stacks.
    /// </summary>
    public BpfLink AttachUprobe(int pid, string binaryPath, ulong fileOffset, ulong cookie)
    {
        var opts = new LibbpfNative.BpfUprobeOpts
        {
            Sz = (nuint)sizeof(LibbpfNative.BpfUprobeOpts),
            BpfCookie = cookie,
            Retprobe = 0,
        };
        nint link;
        int errno;
        lock (_owner.Sync)
        {
            _owner.ThrowIfDisposed();
            LibbpfLog.BeginCall();
            link = LibbpfNative.bpf_program__attach_uprobe_opts(_prog, pid, binaryPath, (nuint)fileOffset, &opts);
            errno = Marshal.GetLastPInvokeError();
        }
        var what = $"uprobe {Name} {binaryPath}+0x{fileOffset:x} pid {pid}";
        if (link == 0) throw new BpfException($"attach {what}", errno, LibbpfLog.TakeLines());
        return new BpfLink(new BpfLinkHandle(link), what);
    }

    /// <summary>
    /// Attaches at <paramref name="fileOffsets"/> of the file with one multi-uprobe
    /// link (see <see cref="UprobeMulti"/>), each offset with its cookie, for
    /// <paramref name="pid"/>'s process only or, with 0, every process that maps
    /// the file. The program must have been loaded for it (<see cref="SetUprobeMulti"/>).
    /// </summary>
    public BpfLink AttachUprobeMulti(int pid, string binaryPath, ReadOnlySpan<ulong> fileOffsets, ReadOnlySpan<ulong> cookies)
    {
        int fd;
        lock (_owner.Sync)
        {
            _owner.ThrowIfDisposed();
            fd = UprobeMulti.Create(Fd, binaryPath, fileOffsets, cookies, pid);
        }
        var what = $"uprobe.multi {Name} {binaryPath} ({fileOffsets.Length} offsets) pid {pid}";
        if (fd < 0) throw new BpfException($"attach {what}", -fd, []);
        return new BpfLink(new BpfLinkFd(fd), what, fileOffsets.Length);
    }

    /// <summary>Loads the program for multi-uprobe links (and for those only); before the object is loaded.</summary>
    public void SetUprobeMulti()
    {
        int rc = LibbpfNative.bpf_program__set_expected_attach_type(_prog, UprobeMulti.AttachType);
        if (rc < 0) throw new BpfException($"set expected attach type of program {Name}", -rc, []);
    }

    /// <summary>Attaches to a kernel tracepoint (e.g. "sched", "sched_switch").</summary>
    public BpfLink AttachTracepoint(string category, string name)
    {
        nint link;
        int errno;
        lock (_owner.Sync)
        {
            _owner.ThrowIfDisposed();
            LibbpfLog.BeginCall();
            link = LibbpfNative.bpf_program__attach_tracepoint(_prog, category, name);
            errno = Marshal.GetLastPInvokeError();
        }
        var what = $"tracepoint {Name} {category}:{name}";
        if (link == 0) throw new BpfException($"attach {what}", errno, LibbpfLog.TakeLines());
        return new BpfLink(new BpfLinkHandle(link), what);
    }

    /// <summary>
    /// Attaches by the program's section name (tp_btf/NAME, raw_tp/NAME, ...),
    /// as libbpf's auto-attach does.
    /// </summary>
    public BpfLink Attach()
    {
        nint link;
        int errno;
        lock (_owner.Sync)
        {
            _owner.ThrowIfDisposed();
            LibbpfLog.BeginCall();
            link = LibbpfNative.bpf_program__attach(_prog);
            errno = Marshal.GetLastPInvokeError();
        }
        var what = $"program {Name}";
        if (link == 0) throw new BpfException($"attach {what}", errno, LibbpfLog.TakeLines());
        return new BpfLink(new BpfLinkHandle(link), what);
    }

    /// <summary>The program's fd (for /proc/self/fdinfo run-time statistics); negative when it was not loaded.</summary>
    public int Fd => LibbpfNative.bpf_program__fd(_prog);

    /// <summary>Whether the object's load loads this program; only before it is loaded.</summary>
    public void SetAutoload(bool autoload)
    {
        int rc = LibbpfNative.bpf_program__set_autoload(_prog, autoload);
        if (rc < 0) throw new BpfException($"set autoload of program {Name}", -rc, []);
    }
}
