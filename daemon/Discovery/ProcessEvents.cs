using System.Runtime.InteropServices;
using Sonde.Interop.Libbpf;
using Sonde.RingBuffer;
using Sonde.Tracing;

namespace Sonde.Discovery;

/// <summary>
/// exec and exit of every process on the host, from the sched_process_exec
/// and sched_process_exit tracepoints (bpf/procs.bpf.c): what lets `sonde run`
/// follow services that start, stop and restart, without polling /proc.
/// </summary>
public sealed class ProcessEvents : IDisposable
{
    private const uint RingBytes = 256 << 10;
    private readonly BpfObject _object;
    private readonly List<BpfLink> _links = new();
    private readonly RingBufferReader _reader;

    public ProcessEvents()
    {
        _object = BpfObject.Open(HttpTracer.EmbeddedObject("procs.bpf.o"));
        try
        {
            try { _object.Load(); }
            catch (BpfException e) { throw new TraceException("the kernel refused Sonde's process-event programs: " + e.Message, e); }
            PidNamespace.Configure(_object);
            _links.Add(_object.Program("sonde_proc_exec").Attach());
            _links.Add(_object.Program("sonde_proc_exit").Attach());
            _reader = new RingBufferReader(_object.Map("proc_events").Fd, RingBytes);
        }
        catch
        {
            foreach (var l in _links) l.Dispose();
            _object.Dispose();
            throw;
        }
    }

    /// <summary>Events the ring buffer had no room for (then a /proc rescan is due).</summary>
    public ulong Drops => _object.Map("proc_drops").SumPerCpu(0);

    /// <summary>Calls <paramref name="onEvent"/> for each event until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(Action<ProcessEventKind, int> onEvent, CancellationToken stop)
    {
        using var reg = stop.Register(static s => ((RingBufferReader)s!).CancelPendingRead(), _reader);
        while (!stop.IsCancellationRequested)
        {
            var result = await _reader.ReadAsync().ConfigureAwait(false);
            if (result.IsCanceled || result.Buffer.IsEmpty)
            {
                _reader.AdvanceTo(result.Buffer.Start);
                continue;
            }
            var records = new RingBufferRecords(result.Buffer.FirstSpan);
            while (records.MoveNext())
            {
                if (records.Current.Length < 8) continue;
                var kind = (ProcessEventKind)MemoryMarshal.Read<uint>(records.Current);
                int pid = MemoryMarshal.Read<int>(records.Current[4..]);
                onEvent(kind, pid);
            }
            _reader.AdvanceTo(result.Buffer.GetPosition(records.Consumed));
        }
    }

    public void Dispose()
    {
        foreach (var l in _links) l.Dispose();
        _reader.Dispose();
        _object.Dispose();
    }
}
