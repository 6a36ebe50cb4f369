using Sonde.Config;

namespace Sonde.Hosting;

/// <summary>
/// What `sonde run` hosts: target discovery, the BPF tracer and the metrics
/// exporters, behind one lifecycle. <see cref="PipelineHost"/> calls these one
/// at a time (never two concurrently); <see cref="Status"/> and
/// <see cref="Heartbeat"/> are read from another thread at any time.
/// </summary>
public interface ISondePipeline
{
    /// <summary>
    /// Attaches the current targets and starts the metrics endpoint; returns
    /// when Sonde is ready (systemd is told READY=1 only then). Throwing
    /// fails the start: the message is logged and `sonde run` exits 1.
    /// </summary>
    Task StartAsync(SondeConfig config, CancellationToken ct);

    /// <summary>
    /// Applies a new configuration (SIGHUP, `systemctl reload`): re-resolves
    /// targets, keeps the histograms. Only called with a config that passed
    /// validation. Throwing is logged; the daemon keeps running.
    /// </summary>
    Task ReloadAsync(SondeConfig config, CancellationToken ct);

    /// <summary>Detaches every probe and stops the exporters.</summary>
    Task StopAsync(CancellationToken ct);

    /// <summary>One human line for `systemctl status`: "3 targets, 1200 req/s, 1200 requests, 0 lost".</summary>
    string Status { get; }

    /// <summary>
    /// A counter the event loop advances on every iteration (at least every
    /// few seconds, also when idle). The systemd watchdog is fed only while it
    /// moves, so a stuck loop gets the unit restarted after WatchdogSec (30 s).
    /// It must keep moving during <see cref="ReloadAsync"/> too: re-resolve
    /// targets beside the loop, not on it.
    /// </summary>
    long Heartbeat { get; }
}
