using System.Buffers.Binary;
using Sonde.RingBuffer;

namespace Sonde.Tests.RingBuffer;

/// <summary>
/// The record walk over a ring's bytes, as the kernel lays them out
/// (kernel/bpf/ringbuf.c): 8-byte header (length | BUSY bit 31 | DISCARD bit
/// 30, then the page offset), payload, padding to 8 bytes.
/// </summary>
public sealed class RingBufferRecordsTests
{
    private const uint Busy = 1u << 31, Discard = 1u << 30;

    private static byte[] Ring(params (uint Flags, byte[] Payload)[] records)
    {
        var bytes = new List<byte>();
        foreach (var (flags, payload) in records)
        {
            var hdr = new byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(hdr, (uint)payload.Length | flags);
            bytes.AddRange(hdr);
            bytes.AddRange(payload);
            while (bytes.Count % 8 != 0) bytes.Add(0xEE);
        }
        return [.. bytes];
    }

    private static (List<byte[]> Payloads, int Consumed) Walk(ReadOnlySpan<byte> span)
    {
        var records = new RingBufferRecords(span);
        var payloads = new List<byte[]>();
        while (records.MoveNext()) payloads.Add(records.Current.ToArray());
        return (payloads, records.Consumed);
    }

    [Fact]
    public void Walks_committed_records_skips_discarded_ones_and_counts_both_as_consumed()
    {
        var ring = Ring((0, [1, 2, 3]), (Discard, [9, 9, 9, 9, 9]), (0, [4, 5, 6, 7, 8, 9, 10, 11]));
        var (payloads, consumed) = Walk(ring);
        Assert.Equal(new[] { new byte[] { 1, 2, 3 }, new byte[] { 4, 5, 6, 7, 8, 9, 10, 11 } }, payloads);
        Assert.Equal(ring.Length, consumed);
    }

    [Fact]
    public void Stops_at_the_first_record_still_being_written_and_consumes_nothing_of_it()
    {
        var ring = Ring((0, [1]), (Busy, [2, 2]), (0, [3]));
        var (payloads, consumed) = Walk(ring);
        Assert.Equal(new[] { new byte[] { 1 } }, payloads);
        Assert.Equal(16, consumed);
        Assert.Empty(Walk(ring.AsSpan(consumed)).Payloads);
    }

    [Fact]
    public void A_record_cut_off_by_the_end_of_the_span_is_left_for_the_next_read()
    {
        var ring = Ring((0, [1, 2, 3, 4]), (0, new byte[20]));
        var (payloads, consumed) = Walk(ring.AsSpan(0, ring.Length - 1));
        Assert.Single(payloads);
        Assert.Equal(16, consumed);
    }
}
