using System.Buffers;

namespace Sonde.RingBuffer;

/// <summary>
/// Exposes a native region (the ring buffer's data mapping) as Memory&lt;byte&gt;
/// so slices of it can be handed out as ReadOnlySequence without copying.
/// The region's lifetime is the owner's; this never frees it.
/// </summary>
internal sealed unsafe class NativeMemoryManager : MemoryManager<byte>
{
    private readonly byte* _pointer;
    private readonly int _length;

    public NativeMemoryManager(byte* pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);
    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);
    public override void Unpin() { }
    protected override void Dispose(bool disposing) { }
}
