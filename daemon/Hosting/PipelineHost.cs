using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sonde.Capture;
using Sonde.Config;
using Sonde.Tracing;

namespace Sonde.Hosting;

/// <summary>
/// The hosted service of `sonde run`: runs an <see cref="ISondePipeline"/> and
/// keeps systemd informed. READY=1 goes out only once the pipeline's
/// StartAsync returned; STATUS= follows the pipeline's status line; WATCHDOG=1
/// only while the pipeline's heartbeat moves (<see cref="HeartbeatWatchdog"/>);
/// a reload (SIGHUP) is RELOADING=1 + MONOTONIC_USEC, a re-read of the config
/// — kept only if valid — then READY=1; a stop is STOPPING=1 first.
/// </summary>
public sealed class PipelineHost : IHostedService, IDisposable
{
    private readonly Func<SondeConfig, ILoggerFactory, ISondePipeline> _factory;
    private readonly Func<SondeConfig> _readConfig;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly SystemdNotifier _notifier;
    private readonly WatchdogSettings? _watchdog;
    private readonly LogLevelSwitch _levels;
    private readonly string _configPath;
    private readonly Channel<bool> _reloads = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _notifyLock = new();
    private ISondePipeline? _pipeline;
    private Task _loops = Task.CompletedTask;
    // Written by the reload loop, read by the status loop.
    private volatile string? _lastStatus;
    private volatile string? _reloadNote;
    private bool _notifyFailureLogged;
    private int _reloadsCompleted;

    /// <param name="config">The configuration read at start.</param>
    /// <param name="configPath">Where it came from, for messages.</param>
    /// <param name="readConfig">Reads it again on reload; throws <see cref="ConfigException"/> if invalid.</param>
    /// <param name="pipelineFactory">Makes the pipeline, once, at start.</param>
    public PipelineHost(SondeConfig config, string configPath, Func<SondeConfig> readConfig,
        Func<SondeConfig, ILoggerFactory, ISondePipeline> pipelineFactory, ILoggerFactory loggers,
        SystemdNotifier notifier, WatchdogSettings? watchdog, LogLevelSwitch levels)
    {
        Config = config;
        _configPath = configPath;
        _readConfig = readConfig;
        _factory = pipelineFactory;
        _loggers = loggers;
        _log = loggers.CreateLogger<PipelineHost>();
        _notifier = notifier;
        _watchdog = watchdog;
        _levels = levels;
    }

    /// <summary>How often STATUS= is refreshed from the pipeline (sent only when it changed).</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The configuration in effect: the last one the pipeline accepted.</summary>
    public SondeConfig Config { get; private set; }

    /// <summary>Completes when READY=1 has been sent.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Reloads finished (accepted, rejected or failed), for tests.</summary>
    public int ReloadsCompleted => Volatile.Read(ref _reloadsCompleted);

    /// <summary>What `sonde run` should exit with: 0, or 1 after a failed start or stop.</summary>
    public int ExitCode { get; private set; }

    /// <summary>Asks for a reload (SIGHUP). Requests arriving during one are folded into the next.</summary>
    public void RequestReload() => _reloads.Writer.TryWrite(true);

    public async Task StartAsync(CancellationToken ct)
    {
        if (_notifier.UnsupportedReason is { } why) _log.NotifyUnsupported(why);
        _log.Starting(Config.Targets.Count, _configPath);
        Notify($"STATUS=starting: {Config.Targets.Count} targets");
        try
        {
            _pipeline = _factory(Config, _loggers);
            await _pipeline.StartAsync(Config, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopped while starting (SIGTERM): undo what was attached, then let the host unwind.
            if (_pipeline is not null) await StopPipelineAsync(CancellationToken.None);
            throw;
        }
        catch (Exception e)
        {
            ExitCode = 1;
            if (e is TraceException or ConfigException) _log.StartFailed(e.Message);
            else _log.StartCrashed(e);
            Notify("STATUS=" + SystemdNotifier.StatusLine($"failed to start: {e.Message}"));
            if (_pipeline is not null) await StopPipelineAsync(CancellationToken.None);
            throw;
        }

        string status = CurrentStatus();
        long heartbeat = _pipeline.Heartbeat;
        // The watchdog's clock starts at READY (systemd.service(5), WatchdogSec=);
        // the first ping rides along.
        Notify($"READY=1\nSTATUS={status}{(_watchdog is null ? "" : "\nWATCHDOG=1")}");
        _lastStatus = status;
        _log.Ready(status);
        _ready.TrySetResult();
        if (_watchdog is { } w) _log.WatchdogEnabled(w.Timeout.TotalSeconds, w.CheckInterval.TotalSeconds);

        var token = _stopping.Token;
        _loops = Task.WhenAll(
            Task.Run(() => ReloadLoopAsync(token), CancellationToken.None),
            Task.Run(() => StatusLoopAsync(token), CancellationToken.None),
            _watchdog is { } wd ? Task.Run(() => WatchdogLoopAsync(wd, heartbeat, token), CancellationToken.None) : Task.CompletedTask);
    }

    public async Task StopAsync(CancellationToken ct)
    {
        Notify("STOPPING=1\nSTATUS=stopping: detaching probes");
        _log.Stopping();
        _stopping.Cancel();
        try { await _loops.WaitAsync(ct); }
        catch (OperationCanceledException) { }
        if (_pipeline is not null) await StopPipelineAsync(ct);
        _log.Stopped();
    }

    private async Task StopPipelineAsync(CancellationToken ct)
    {
        try { await _pipeline!.StopAsync(ct); }
        catch (Exception e)
        {
            ExitCode = 1;
            _log.StopFailed(e.Message, e);
        }
    }

    private async Task ReloadLoopAsync(CancellationToken ct)
    {
        try
        {
            while (await _reloads.Reader.WaitToReadAsync(ct))
            {
                _reloads.Reader.TryRead(out _);
                await ReloadOnceAsync(ct);
                Interlocked.Increment(ref _reloadsCompleted);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    private async Task ReloadOnceAsync(CancellationToken ct)
    {
        // MONOTONIC_USEC (systemd >= 253) lets the manager tell this reload from
        // an earlier one; older managers ignore it (sd_notify(3)).
        ulong monotonicUsec = MonotonicClock.NowNs() / 1000;
        Notify($"RELOADING=1\nMONOTONIC_USEC={monotonicUsec.ToString(CultureInfo.InvariantCulture)}\nSTATUS=reloading {_configPath}");
        _log.Reloading(_configPath);
        SondeConfig next;
        try { next = _readConfig(); }
        catch (ConfigException e)
        {
            _log.ReloadRejected(_configPath, e.Message);
            _reloadNote = $"last reload rejected: {e.Message}";
            SendReady();
            return;
        }
        // The log level is the host's own: it applies as soon as the new config
        // is known to be valid, so the pipeline's reload already logs at it.
        if (next.Log.Level != _levels.Minimum)
        {
            _levels.Minimum = next.Log.Level;
            _log.LogLevelChanged(ConfigJson.LevelName(next.Log.Level));
        }
        try
        {
            await _pipeline!.ReloadAsync(next, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
        catch (Exception e)
        {
            _log.ReloadFailed(e.Message, e);
            _reloadNote = $"last reload failed: {e.Message}";
            SendReady();
            return;
        }
        Config = next;
        _reloadNote = null;
        string status = SendReady();
        _log.Reloaded(next.Targets.Count, status);
    }

    private string SendReady()
    {
        string status = CurrentStatus();
        Notify($"READY=1\nSTATUS={status}");
        _lastStatus = status;
        return status;
    }

    private async Task StatusLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(StatusInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                string status = CurrentStatus();
                if (status == _lastStatus) continue;
                _lastStatus = status;
                Notify("STATUS=" + status);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    private async Task WatchdogLoopAsync(WatchdogSettings settings, long heartbeatAtReady, CancellationToken ct)
    {
        var watchdog = new HeartbeatWatchdog(heartbeatAtReady, Environment.TickCount64);
        using var timer = new PeriodicTimer(settings.CheckInterval);
        bool warned = false;
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                long now = Environment.TickCount64;
                var stalledFor = watchdog.SinceAdvance(now);
                if (watchdog.ShouldPing(_pipeline!.Heartbeat, now))
                {
                    Notify("WATCHDOG=1");
                    if (warned) _log.HeartbeatResumed(stalledFor.TotalSeconds);
                    warned = false;
                }
                else if (!warned)
                {
                    _log.HeartbeatStalled(watchdog.SinceAdvance(now).TotalSeconds, settings.Timeout.TotalSeconds);
                    warned = true;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    /// <summary>The pipeline's status line, with a note after a rejected reload.</summary>
    private string CurrentStatus()
    {
        string status;
        try { status = _pipeline?.Status ?? "starting"; }
        catch (Exception e)
        {
            _log.StatusFailed(e.Message);
            status = "status unavailable";
        }
        if (_reloadNote is { } note) status = $"{status} ({note})";
        return SystemdNotifier.StatusLine(status);
    }

    private void Notify(string state)
    {
        lock (_notifyLock)
        {
            if (_notifier.Notify(state) || !_notifier.IsActive || _notifyFailureLogged) return;
            _notifyFailureLogged = true;
            _log.NotifyFailed(_notifier.Address ?? "", _notifier.LastError?.Message ?? "unknown error");
        }
    }

    public void Dispose() => _stopping.Dispose();
}
