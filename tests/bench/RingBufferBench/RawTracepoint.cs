using System.Runtime.InteropServices;

namespace Sonde.Bench;

/// <summary>
/// A BPF program attached to a raw tracepoint (bpf_raw_tracepoint_open,
/// libbpf's bpf.h). Sonde's interop has no raw tracepoint attach yet, and the
/// bench's producer needs one: kept here, private to the bench. Dispose detaches.
/// </summary>
internal sealed partial class RawTracepoint : IDisposable
{
    private int _fd;

    private RawTracepoint(int fd) => _fd = fd;

    /// <summary>Attaches the program whose fd is <paramref name="programFd"/> to raw tracepoint <paramref name="name"/>.</summary>
    public static RawTracepoint Attach(string name, int programFd)
    {
        // libbpf 1.x low-level API: returns the link fd, or -errno.
        int fd = bpf_raw_tracepoint_open(name, programFd);
        if (fd < 0) throw new InvalidOperationException($"bpf_raw_tracepoint_open({name}) failed: errno {-fd}");
        return new RawTracepoint(fd);
    }

    public void Dispose()
    {
        if (_fd >= 0) close(_fd);
        _fd = -1;
    }

    [LibraryImport("libbpf.so.1", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int bpf_raw_tracepoint_open(string name, int progFd);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
