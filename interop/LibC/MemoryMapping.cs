using System.Runtime.InteropServices;

namespace Sonde.Interop.LibC;

/// <summary>Owns one mmap() region; disposing unmaps it.</summary>
public sealed unsafe class MemoryMapping : SafeHandle
{
    private MemoryMapping(nint address, nuint length) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public nuint Length { get; }
    public byte* Address => (byte*)handle;
    public override bool IsInvalid => handle == IntPtr.Zero || handle == -1;

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> at <paramref name="offset"/>, shared.</summary>
    public static MemoryMapping Map(int fd, long offset, nuint length, bool writable)
    {
        int prot = LibCNative.PROT_READ | (writable ? LibCNative.PROT_WRITE : 0);
        void* p = LibCNative.mmap(null, length, prot, LibCNative.MAP_SHARED, fd, offset);
        if (p == (void*)-1) throw new NativeCallException("mmap", Marshal.GetLastPInvokeError());
        return new MemoryMapping((nint)p, length);
    }

    protected override bool ReleaseHandle() => LibCNative.munmap((void*)handle, Length) == 0;
}
