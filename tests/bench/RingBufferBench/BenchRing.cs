using Sonde.Interop.Libbpf;
using Sonde.RingBuffer;

namespace Sonde.Bench;

/// <summary>
/// bpf/bench.bpf.c loaded and pointed at a producer process: its ring buffer,
/// read with Sonde's <see cref="RingBufferReader"/>, and its counters.
/// Dispose detaches the producer, then unloads.
/// </summary>
internal sealed class BenchRing : IDisposable
{
    private const uint StatTriggers = 0, StatProduced = 1, StatFailed = 2;   // enum sonde_bench_stat

    private readonly BpfObject _object;
    private readonly BpfMap _stats;
    private RawTracepoint? _attached;

    public BenchRing(string objectPath, int producerPid, uint batch, uint ringBytes)
    {
        _object = BpfObject.Open(File.ReadAllBytes(objectPath));
        try
        {
            _object.Map("bench_events").SetMaxEntries(ringBytes);
            _object.Load();
            _object.Map("bench_config").Update(0u, new BenchConfig { Tgid = (uint)producerPid, Batch = batch });
            _stats = _object.Map("bench_stats");
            // As HttpTracer: batches of the producer's wake-up threshold (bpf/bench.bpf.c wakeup_flags).
            Reader = new RingBufferReader(_object.Map("bench_events").Fd, ringBytes, batchBytes: ringBytes / 8);
            _attached = RawTracepoint.Attach("sys_enter", _object.Program("bench_produce").Fd);
        }
        catch
        {
            Reader?.Dispose();
            _object.Dispose();
            throw;
        }
    }

    public RingBufferReader Reader { get; }
    public ulong Triggers => _stats.SumPerCpu(StatTriggers);
    public ulong Produced => _stats.SumPerCpu(StatProduced);
    public ulong Failed => _stats.SumPerCpu(StatFailed);

    /// <summary>Stops production; what is in the ring stays readable.</summary>
    public void Detach()
    {
        _attached?.Dispose();
        _attached = null;
    }

    public void Dispose()
    {
        Detach();
        Reader.Dispose();
        _object.Dispose();
    }
}
