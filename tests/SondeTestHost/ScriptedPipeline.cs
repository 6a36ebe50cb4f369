using System.Globalization;
using Microsoft.Extensions.Logging;
using Sonde.Capture;
using Sonde.Config;
using Sonde.Hosting;
using Sonde.Tracing;

namespace Sonde.TestHost;

/// <summary>
/// A stand-in pipeline for testing the hosting layer under a real systemd
/// (`sonde-testhost run --script DIR`): it traces nothing, and is driven and
/// observed through files in DIR.
/// <list type="bullet">
/// <item><c>ready-delay-ms</c>: how long StartAsync takes (default 0).</item>
/// <item><c>reload-delay-ms</c>: how long ReloadAsync takes (default 0).</item>
/// <item><c>fail-start</c>: if present, StartAsync fails with its text.</item>
/// <item><c>freeze</c>: while present, the heartbeat stands still.</item>
/// <item><c>events</c>: appended, one line per call:
/// <c>EVENT MONOTONIC_USEC pid=PID listen=METRICS_LISTEN level=LOG_LEVEL</c>,
/// EVENT one of start, ready, reload, stop.</item>
/// </list>
/// </summary>
internal sealed partial class ScriptedPipeline(string directory, ILoggerFactory loggers) : ISondePipeline
{
    private readonly ILogger _log = loggers.CreateLogger<ScriptedPipeline>();
    private readonly CancellationTokenSource _stop = new();
    private Thread? _loop;
    private long _heartbeat;
    private SondeConfig _config = new();

    public string Status => $"fake pipeline: {_config.Targets.Count} targets, listen {_config.Metrics.Listen}, heartbeat {Heartbeat}";

    public long Heartbeat => Interlocked.Read(ref _heartbeat);

    public async Task StartAsync(SondeConfig config, CancellationToken ct)
    {
        _config = config;
        FakeStarting(_log);
        Record("start", config);
        await Task.Delay(Milliseconds("ready-delay-ms"), ct);
        string fail = Path.Combine(directory, "fail-start");
        if (File.Exists(fail)) throw new TraceException(File.ReadAllText(fail).Trim());

        // The "event loop": advances the heartbeat unless told to freeze.
        _loop = new Thread(() =>
        {
            string freeze = Path.Combine(directory, "freeze");
            while (!_stop.IsCancellationRequested)
            {
                if (!File.Exists(freeze)) Interlocked.Increment(ref _heartbeat);
                _stop.Token.WaitHandle.WaitOne(50);
            }
        }) { IsBackground = true, Name = "fake event loop" };
        _loop.Start();
        FakeAttached(_log, config.Targets.Count, Environment.ProcessId);
        FakeWarning(_log);
        FakeError(_log);
        Record("ready", config);
    }

    public async Task ReloadAsync(SondeConfig config, CancellationToken ct)
    {
        FakeReloading(_log);
        await Task.Delay(Milliseconds("reload-delay-ms"), ct);
        _config = config;
        Record("reload", config);
        FakeReloaded(_log, config.Metrics.Listen);
    }

    public Task StopAsync(CancellationToken ct)
    {
        _stop.Cancel();
        _loop?.Join();
        Record("stop", _config);
        return Task.CompletedTask;
    }

    private int Milliseconds(string file)
    {
        string path = Path.Combine(directory, file);
        return File.Exists(path) ? int.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture) : 0;
    }

    private void Record(string what, SondeConfig config)
    {
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{what} {(ulong)System.Diagnostics.Stopwatch.GetTimestamp() / 1000} pid={Environment.ProcessId} listen={config.Metrics.Listen} level={ConfigJson.LevelName(config.Log.Level)}\n");
        File.AppendAllText(Path.Combine(directory, "events"), line);
    }

    // One entry per level, with a structured field, so tests can check priorities.
    [LoggerMessage(90, LogLevel.Debug, "fake pipeline: starting (debug entry)")]
    private static partial void FakeStarting(ILogger logger);

    [LoggerMessage(91, LogLevel.Information, "fake pipeline: attached {TargetCount} targets, pid {TargetPid}")]
    private static partial void FakeAttached(ILogger logger, int targetCount, int targetPid);

    [LoggerMessage(92, LogLevel.Warning, "fake pipeline: sample warning entry")]
    private static partial void FakeWarning(ILogger logger);

    [LoggerMessage(93, LogLevel.Error, "fake pipeline: sample error entry")]
    private static partial void FakeError(ILogger logger);

    [LoggerMessage(95, LogLevel.Debug, "fake pipeline: reloading (debug entry)")]
    private static partial void FakeReloading(ILogger logger);

    [LoggerMessage(94, LogLevel.Information, "fake pipeline: reloaded, metrics.listen {Listen}")]
    private static partial void FakeReloaded(ILogger logger, string listen);
}
