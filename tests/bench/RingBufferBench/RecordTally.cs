using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sonde.Bench;

/// <summary>
/// What the consumer decoded: every record is checked in place (length,
/// magic, a payload word, sequence order), as a real decoder would touch it.
/// </summary>
internal sealed class RecordTally
{
    private long _consumed;
    public ulong NextSeq;
    public ulong Gaps;        // seq numbers skipped: reservations that failed
    public ulong Bad;         // malformed or out-of-order records
    public ulong Checksum;

    public long Consumed => Volatile.Read(ref _consumed);

    public void Add(ReadOnlySpan<byte> payload)
    {
        if (payload.Length != Unsafe.SizeOf<BenchEvent>()) { Bad++; return; }
        ref readonly BenchEvent e = ref MemoryMarshal.AsRef<BenchEvent>(payload);
        if (e.Magic != BenchEvent.MagicValue || e.Seq < NextSeq || e.W5 != e.Seq * 6) { Bad++; return; }
        Gaps += e.Seq - NextSeq;
        NextSeq = e.Seq + 1;
        Checksum += e.W0 ^ e.Tgid;
        _consumed++;
    }
}
