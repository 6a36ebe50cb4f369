using System.Runtime.InteropServices;

namespace Sonde.Bench;

/// <summary>struct sonde_bench_config of bpf/bench.h: slot 0 of the bench_config map.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BenchConfig
{
    public uint Tgid;    // only this process's getpgid() produces
    public uint Batch;   // records per getpgid() call
}
