using Sonde.Config;
using Sonde.Hosting;

namespace Sonde.Tests.Hosting;

/// <summary>
/// A pipeline for in-process tests of <see cref="PipelineHost"/>: starts when
/// told to, records its calls, and its heartbeat advances only when the test
/// says so (or keeps running on a timer until <see cref="Freeze"/>).
/// </summary>
public sealed class TestPipeline : ISondePipeline
{
    private readonly List<string> _calls = new();
    private long _heartbeat;
    private volatile bool _frozen;
    private Timer? _beat;

    /// <summary>StartAsync waits on this; complete it to let the start finish.</summary>
    public TaskCompletionSource StartGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Exception? FailStart { get; set; }
    public Exception? FailReload { get; set; }
    public string Status { get; set; } = "2 targets, 0 req/s, 0 drops";
    public long Heartbeat => Interlocked.Read(ref _heartbeat);
    public IReadOnlyList<string> Calls { get { lock (_calls) return _calls.ToList(); } }
    public SondeConfig? LastConfig { get; private set; }

    /// <summary>Advances the heartbeat every 20 ms, except while frozen.</summary>
    public void Run() => _beat = new Timer(_ =>
    {
        if (!_frozen) Interlocked.Increment(ref _heartbeat);
    }, null, 0, 20);

    public void Freeze() => _frozen = true;

    public void Thaw() => _frozen = false;

    public async Task StartAsync(SondeConfig config, CancellationToken ct)
    {
        Record("start");
        await StartGate.Task.WaitAsync(ct);
        if (FailStart is { } e) throw e;
        LastConfig = config;
        Record("started");
    }

    public Task ReloadAsync(SondeConfig config, CancellationToken ct)
    {
        Record("reload");
        if (FailReload is { } e) throw e;
        LastConfig = config;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct)
    {
        Record("stop");
        _beat?.Dispose();
        return Task.CompletedTask;
    }

    private void Record(string call)
    {
        lock (_calls) _calls.Add(call);
    }
}
