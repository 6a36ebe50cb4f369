using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>
/// Questions about the running kernel answered from its BTF
/// (/sys/kernel/btf/vmlinux, through libbpf): what CO-RE relocations in Sonde's
/// programs will find, asked before or without loading them. Parsing the kernel's
/// BTF takes ~9 ms here: load it once for all the questions, then dispose it.
/// </summary>
public sealed unsafe class KernelBtf : IDisposable
{
    // include/uapi/linux/btf.h: struct btf_type { name_off; info; size/type }, then
    // for BTF_KIND_STRUCT (4) vlen (info bits 0-15) struct btf_member { name_off; type; offset }.
    private const uint KindStruct = 4;

    /// <summary>libbpf's struct btf*; 0 when the kernel has no BTF (every answer is then false).</summary>
    private nint _btf;

    private KernelBtf(nint btf) => _btf = btf;

    public static KernelBtf Load() => new(LibbpfNative.btf__load_vmlinux_btf());

    /// <summary>Whether the kernel defines struct <paramref name="structName"/>.</summary>
    public bool HasStruct(string structName) => StructId(structName) > 0;

    /// <summary>
    /// Whether struct <paramref name="structName"/> has a member named
    /// <paramref name="member"/> (directly, not inside a nested anonymous member).
    /// </summary>
    public bool HasMember(string structName, string member)
    {
        int id = StructId(structName);
        if (id <= 0) return false;
        uint* t = (uint*)LibbpfNative.btf__type_by_id(_btf, (uint)id);
        if (t == null) return false;
        int vlen = (int)(t[1] & 0xffff);
        uint* m = t + 3;
        for (int i = 0; i < vlen; i++, m += 3)
        {
            byte* name = LibbpfNative.btf__name_by_offset(_btf, m[0]);
            if (name != null && Marshal.PtrToStringUTF8((nint)name) == member) return true;
        }
        return false;
    }

    private int StructId(string structName)
    {
        ObjectDisposedException.ThrowIf(_btf == -1, this);
        return _btf == 0 ? 0 : LibbpfNative.btf__find_by_name_kind(_btf, structName, KindStruct);
    }

    public void Dispose()
    {
        if (_btf != 0 && _btf != -1) LibbpfNative.btf__free(_btf);
        _btf = -1;
    }
}
