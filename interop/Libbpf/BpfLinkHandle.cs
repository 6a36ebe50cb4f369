using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>Owns a struct bpf_link*: destroying it detaches the probe.</summary>
public sealed class BpfLinkHandle : SafeHandle
{
    public BpfLinkHandle() : base(IntPtr.Zero, ownsHandle: true) { }
    internal BpfLinkHandle(nint link) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(link);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() => LibbpfNative.bpf_link__destroy(handle) == 0;
}
