using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>Owns a struct bpf_object*: closing it unloads programs and maps.</summary>
public sealed class BpfObjectHandle : SafeHandle
{
    public BpfObjectHandle() : base(IntPtr.Zero, ownsHandle: true) { }
    internal BpfObjectHandle(nint obj) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(obj);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle()
    {
        LibbpfNative.bpf_object__close(handle);
        return true;
    }
}
