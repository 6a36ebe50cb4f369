using System.Runtime.InteropServices;

namespace Sonde.Bench;

/// <summary>
/// struct sonde_bench_event of bpf/bench.h: 64 bytes, read in place from the
/// ring buffer. The BPF side asserts its size; <see cref="Program"/> checks this one.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BenchEvent
{
    public const uint MagicValue = 0x53444e4f;   // SONDE_BENCH_MAGIC

    public ulong Seq;
    public uint Magic;
    public uint Tgid;
    // words[6] in C: W(i) == Seq * (i + 1).
    public ulong W0, W1, W2, W3, W4, W5;
}
