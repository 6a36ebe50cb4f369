using System.Runtime.CompilerServices;

namespace Sonde.RingBuffer;

/// <summary>
/// Walks the records in a span handed out by <see cref="RingBufferReader"/>:
/// 8-byte header (u32 length with BUSY/DISCARD bits, u32 page offset), then
/// the payload, padded to 8 bytes (kernel/bpf/ringbuf.c). Discarded records
/// are skipped; the walk ends at the first record still being written (BUSY),
/// whose header is read with acquire semantics: the kernel clears BUSY with
/// release semantics once the payload is written. A ref struct enumerator:
/// nothing is allocated.
/// </summary>
public ref struct RingBufferRecords
{
    internal const int HeaderSize = 8;
    internal const uint BusyBit = 1u << 31;
    private const uint DiscardBit = 1u << 30;
    private const uint LengthMask = ~(BusyBit | DiscardBit);
    private readonly ReadOnlySpan<byte> _span;
    private int _next;

    public RingBufferRecords(ReadOnlySpan<byte> span)
    {
        _span = span;
        _next = 0;
        Current = default;
        Consumed = 0;
    }

    /// <summary>The current record's payload.</summary>
    public ReadOnlySpan<byte> Current { get; private set; }

    /// <summary>Bytes of whole records walked so far (what to pass to AdvanceTo).</summary>
    public int Consumed { get; private set; }

    public bool MoveNext()
    {
        while (_next + HeaderSize <= _span.Length)
        {
            // Little-endian: the kernel's native order on the machines Sonde runs on (x86-64).
            uint hdr = Volatile.Read(ref Unsafe.As<byte, uint>(ref Unsafe.AsRef(in _span[_next])));
            if ((hdr & BusyBit) != 0) return false;
            int len = (int)(hdr & LengthMask);
            int total = (len + HeaderSize + 7) & ~7;
            if (_next + total > _span.Length) return false;
            int payload = _next + HeaderSize;
            _next += total;
            Consumed = _next;
            if ((hdr & DiscardBit) != 0) continue;
            Current = _span.Slice(payload, len);
            return true;
        }
        return false;
    }

    public RingBufferRecords GetEnumerator() => this;
}
