using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>
/// A BPF ELF object opened from memory (bpf_object__open_mem) and loaded into
/// the kernel. libbpf keeps pointing into the ELF bytes until the object is
/// loaded, so they are copied to native memory that lives until then.
/// </summary>
public sealed unsafe class BpfObject : IDisposable
{
    private readonly BpfObjectHandle _handle;
    private void* _elfCopy;
    private readonly Dictionary<string, BpfMap> _maps = new();
    private readonly Dictionary<string, BpfProgram> _programs = new();
    private bool _loaded;

    /// <summary>libbpf calls on one object are serialised through this.</summary>
    internal object Sync { get; } = new();

    private BpfObject(BpfObjectHandle handle, void* elfCopy)
    {
        _handle = handle;
        _elfCopy = elfCopy;
    }

    public static int PossibleCpus { get; } = Math.Max(1, LibbpfNative.libbpf_num_possible_cpus());

    /// <summary>Opens (does not load) an object from its ELF bytes.</summary>
    public static BpfObject Open(ReadOnlySpan<byte> elf)
    {
        void* copy = NativeMemory.Alloc((nuint)elf.Length);
        elf.CopyTo(new Span<byte>(copy, elf.Length));
        LibbpfLog.BeginCall();
        nint obj = LibbpfNative.bpf_object__open_mem(copy, (nuint)elf.Length, null);
        int errno = Marshal.GetLastPInvokeError();
        if (obj == 0)
        {
            NativeMemory.Free(copy);
            throw new BpfException("bpf_object__open_mem", errno, LibbpfLog.TakeLines());
        }
        return new BpfObject(new BpfObjectHandle(obj), copy);
    }

    /// <summary>Loads programs and creates maps in the kernel (the verifier runs here).</summary>
    public void Load()
    {
        lock (Sync)
        {
            ThrowIfDisposed();
            LibbpfLog.BeginCall();
            int rc = LibbpfNative.bpf_object__load(_handle.DangerousGetHandle());
            var log = LibbpfLog.TakeLines();
            FreeElfCopy();
            if (rc < 0) throw new BpfException("bpf_object__load", -rc, log);
            _loaded = true;
        }
    }

    public bool IsLoaded => _loaded;

    public BpfMap Map(string name)
    {
        lock (Sync)
        {
            ThrowIfDisposed();
            if (_maps.TryGetValue(name, out var m)) return m;
            nint p = LibbpfNative.bpf_object__find_map_by_name(_handle.DangerousGetHandle(), name);
            if (p == 0) throw new KeyNotFoundException($"BPF object has no map '{name}'");
            return _maps[name] = new BpfMap(this, p, name);
        }
    }

    public BpfProgram Program(string name)
    {
        lock (Sync)
        {
            ThrowIfDisposed();
            if (_programs.TryGetValue(name, out var pr)) return pr;
            nint p = LibbpfNative.bpf_object__find_program_by_name(_handle.DangerousGetHandle(), name);
            if (p == 0) throw new KeyNotFoundException($"BPF object has no program '{name}'");
            return _programs[name] = new BpfProgram(this, p, name);
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_handle.IsClosed, this);

    private void FreeElfCopy()
    {
        if (_elfCopy != null)
        {
            NativeMemory.Free(_elfCopy);
            _elfCopy = null;
        }
    }

    /// <summary>Closes the object: programs and maps go with it. Destroy links first.</summary>
    public void Dispose()
    {
        lock (Sync)
        {
            _handle.Dispose();
            FreeElfCopy();
        }
    }
}
