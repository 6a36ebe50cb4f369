using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>
/// Questions about the running kernel answered from its BTF
/// (/sys/kernel/btf/vmlinux, through libbpf): what CO-RE relocations in Sonde's
/// programs will find, asked before or without loading them.
/// </summary>
public static unsafe class KernelBtf
{
    // include/uapi/linux/btf.h: struct btf_type { name_off; info; size/type }, then
    // for BTF_KIND_STRUCT (4) vlen (info bits 0-15) struct btf_member { name_off; type; offset }.
    private const uint KindStruct = 4;

    /// <summary>Whether the kernel defines struct <paramref name="structName"/> (false without BTF).</summary>
    public static bool HasStruct(string structName)
    {
        nint btf = LibbpfNative.btf__load_vmlinux_btf();
        if (btf == 0) return false;
        try { return LibbpfNative.btf__find_by_name_kind(btf, structName, KindStruct) > 0; }
        finally { LibbpfNative.btf__free(btf); }
    }

    /// <summary>
    /// Whether struct <paramref name="structName"/> has a member named
    /// <paramref name="member"/> (directly, not inside a nested anonymous member).
    /// False when the kernel has no BTF.
    /// </summary>
    public static bool HasMember(string structName, string member)
    {
        nint btf = LibbpfNative.btf__load_vmlinux_btf();
        if (btf == 0) return false;
        try
        {
            int id = LibbpfNative.btf__find_by_name_kind(btf, structName, KindStruct);
            if (id <= 0) return false;
            uint* t = (uint*)LibbpfNative.btf__type_by_id(btf, (uint)id);
            if (t == null) return false;
            int vlen = (int)(t[1] & 0xffff);
            uint* m = t + 3;
            for (int i = 0; i < vlen; i++, m += 3)
            {
                byte* name = LibbpfNative.btf__name_by_offset(btf, m[0]);
                if (name != null && Marshal.PtrToStringUTF8((nint)name) == member) return true;
            }
            return false;
        }
        finally
        {
            LibbpfNative.btf__free(btf);
        }
    }
}
