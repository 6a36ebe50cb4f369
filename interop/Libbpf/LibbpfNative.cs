using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>
/// P/Invoke declarations for libbpf.so.1 (Debian's libbpf1, 1.1.x). libbpf 1.x
/// returns NULL and sets errno from pointer-returning calls, and -errno from
/// int-returning ones (libbpf 1.0 "strict mode" is the only mode).
/// </summary>
internal static unsafe partial class LibbpfNative
{
    private const string Lib = "libbpf.so.1";

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial nint bpf_object__open_mem(void* objBuf, nuint objBufSz, void* opts);

    [LibraryImport(Lib)]
    internal static partial int bpf_object__load(nint obj);

    [LibraryImport(Lib)]
    internal static partial void bpf_object__close(nint obj);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_object__find_program_by_name(nint obj, string name);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_object__find_map_by_name(nint obj, string name);

    [LibraryImport(Lib)]
    internal static partial int bpf_map__set_max_entries(nint map, uint maxEntries);

    [LibraryImport(Lib)]
    internal static partial int bpf_map__fd(nint map);

    [LibraryImport(Lib)]
    internal static partial uint bpf_map__value_size(nint map);

    [LibraryImport(Lib)]
    internal static partial int bpf_map__set_value_size(nint map, uint size);

    [LibraryImport(Lib)]
    internal static partial void* bpf_map__initial_value(nint map, nuint* size);

    [LibraryImport(Lib)]
    internal static partial int bpf_program__fd(nint prog);

    /// <summary>libbpf 0.6+: whether bpf_object__load loads (and the verifier checks) the program.</summary>
    [LibraryImport(Lib)]
    internal static partial int bpf_program__set_autoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_program__attach_uprobe_opts(nint prog, int pid, string binaryPath, nuint funcOffset, BpfUprobeOpts* opts);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_program__attach_tracepoint(nint prog, string category, string name);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial nint bpf_program__attach(nint prog);

    [LibraryImport(Lib)]
    internal static partial int bpf_link__destroy(nint link);

    [LibraryImport(Lib)]
    internal static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Lib)]
    internal static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

    [LibraryImport(Lib)]
    internal static partial int bpf_map_delete_elem(int fd, void* key);

    [LibraryImport(Lib)]
    internal static partial int bpf_map_get_next_key(int fd, void* key, void* nextKey);

    [LibraryImport(Lib)]
    internal static partial int libbpf_num_possible_cpus();

    [LibraryImport(Lib)]
    internal static partial int bpf_program__set_expected_attach_type(nint prog, uint type);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial nint btf__load_vmlinux_btf();

    [LibraryImport(Lib)]
    internal static partial void btf__free(nint btf);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int btf__find_by_name_kind(nint btf, string name, uint kind);

    [LibraryImport(Lib)]
    internal static partial void* btf__type_by_id(nint btf, uint id);

    [LibraryImport(Lib)]
    internal static partial byte* btf__name_by_offset(nint btf, uint offset);

    [LibraryImport(Lib)]
    internal static partial nint libbpf_set_print(delegate* unmanaged<int, byte*, nint, int> fn);

    /// <summary>
    /// struct bpf_uprobe_opts as in libbpf 1.1's libbpf.h: sz, ref_ctr_offset,
    /// bpf_cookie, retprobe, func_name. Unknown trailing bytes must be zero.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BpfUprobeOpts
    {
        public nuint Sz;
        public nuint RefCtrOffset;
        public ulong BpfCookie;
        public byte Retprobe;
        public nint FuncName;
    }
}
