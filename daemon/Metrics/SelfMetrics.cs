using Sonde.Tracing;

namespace Sonde.Metrics;

/// <summary>
/// Sonde's own health, as metrics the daemon sets: targets, probes and
/// their attach failures, events and drops, ring-buffer fill, probe hits,
/// and the BPF programs' run time (ebpf_exporter's model: a probe that fails
/// to attach is visible here with its reason while the rest keeps working).
/// </summary>
/// <remarks>
/// Kernel-side counts (events, drops, hits, BPF run time) are totals the
/// kernel keeps; set them with <see cref="SetTracerStats"/> and
/// <see cref="SetBpfProgramStats"/> from a <see cref="MetricsRegistry.AddRefresh"/>
/// callback, so that every scrape reads them fresh. Any thread may call
/// anything here.
/// </remarks>
public sealed class SelfMetrics
{
    private readonly CounterFamily _probeHits;

    public SelfMetrics(MetricsRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Targets = registry.AddGauge("sonde_targets", "Processes being traced.").WithLabels();
        ProbesAttached = registry.AddGauge("sonde_probes_attached", "Uprobes and tracepoints attached now.").WithLabels();
        ProbeAttachFailures = registry.AddCounter("sonde_probe_attach_failures",
            "Probes that failed to attach, by reason; tracing goes on without them.", ["reason"], maxSeries: 50);
        Events = registry.AddCounter("sonde_events", "Completed requests the BPF programs submitted to the ring buffer.").WithLabels();
        EventsDropped = registry.AddCounter("sonde_events_dropped",
            "Completed requests lost because the ring buffer was full (counted in BPF, never silently).").WithLabels();
        RequestsLost = registry.AddCounter("sonde_requests_lost",
            "Requests, or parts of them, Sonde could not record, by reason: ring_full (the ring buffer was full), " +
            "inflight_full (the in-flight map was full at the request's start), unmatched_end (an end whose start was not " +
            "seen: the request began before the probes were attached), abandoned (a request whose end its goroutine never " +
            "reached, e.g. a handler that panicked), process_exit (in flight when its process exited), no_config (a start " +
            "in a binary whose offsets were not stored yet), syscalls_beyond_cap (syscalls past the 16 distinct ones a " +
            "request keeps), peers_beyond_cap (network waits on peers past the 8 distinct ones a request keeps; their time stays in " +
            "net_io), breakdown_state_full (threads the breakdown could not follow: its maps were full).", ["reason"], maxSeries: 16);
        RingBufferFillRatio = registry.AddGauge("sonde_ringbuf_fill_ratio",
            "Share of the ring buffer holding records not yet read (0..1).", unit: "ratio").WithLabels();
        _probeHits = registry.AddCounter("sonde_probe_hits", "Uprobe hits, by probe: start and end of requests, route (router probes), scheduler (the breakdown's Go " +
            "scheduler probes, for all goroutines), scheduler_on_requests (those of them that moved a traced request's state), client (net/http's client: " +
            "a round trip's start, dial, connection and end, on any goroutine).", ["probe"], maxSeries: 50);
        BpfRunTime = registry.AddCounter("sonde_bpf_run_time_seconds",
            "Time the kernel spent running each Sonde BPF program (counted only while kernel.bpf_stats_enabled=1).",
            ["program"], unit: "seconds", valueDivisor: 1_000_000_000, maxSeries: 100);
        BpfRuns = registry.AddCounter("sonde_bpf_runs",
            "Runs of each Sonde BPF program (counted only while kernel.bpf_stats_enabled=1).", ["program"], maxSeries: 100);
        BpfStatsEnabled = registry.AddGauge("sonde_bpf_stats_enabled",
            "1 when kernel.bpf_stats_enabled=1, so that sonde_bpf_run_time_seconds_total moves.").WithLabels();
    }

    /// <summary><c>sonde_targets</c>.</summary>
    public GaugeSeries Targets { get; }

    /// <summary><c>sonde_probes_attached</c>.</summary>
    public GaugeSeries ProbesAttached { get; }

    /// <summary><c>sonde_probe_attach_failures_total{reason}</c>; see <see cref="ProbeAttachFailed"/>.</summary>
    public CounterFamily ProbeAttachFailures { get; }

    /// <summary><c>sonde_events_total</c>.</summary>
    public CounterSeries Events { get; }

    /// <summary><c>sonde_events_dropped_total</c>.</summary>
    public CounterSeries EventsDropped { get; }

    /// <summary><c>sonde_requests_lost_total{reason}</c>: every loss the BPF programs count.</summary>
    public CounterFamily RequestsLost { get; }

    /// <summary><c>sonde_ringbuf_fill_ratio</c>.</summary>
    public GaugeSeries RingBufferFillRatio { get; }

    /// <summary><c>sonde_bpf_run_time_seconds_total{program}</c> (nanoseconds recorded).</summary>
    public CounterFamily BpfRunTime { get; }

    /// <summary><c>sonde_bpf_runs_total{program}</c>.</summary>
    public CounterFamily BpfRuns { get; }

    /// <summary><c>sonde_bpf_stats_enabled</c>.</summary>
    public GaugeSeries BpfStatsEnabled { get; }

    /// <summary>
    /// Counts one failed attach. <paramref name="reason"/> should be a short
    /// fixed word (<c>symbol_not_found</c>, <c>permission_denied</c>), not an
    /// error message: it is a label.
    /// </summary>
    public void ProbeAttachFailed(string reason) => ProbeAttachFailures.WithLabels(reason).Increment();

    /// <summary>Copies the BPF-side counters (summed over CPUs) into events, drops and probe hits.</summary>
    public void SetTracerStats(in TracerStats stats)
    {
        Events.SetTotal(Clamp(stats.Events));
        EventsDropped.SetTotal(Clamp(stats.Drops));
        _probeHits.WithLabels("start").SetTotal(Clamp(stats.StartHits));
        _probeHits.WithLabels("end").SetTotal(Clamp(stats.EndHits));
        _probeHits.WithLabels("route").SetTotal(Clamp(stats.RouteHits));
        _probeHits.WithLabels("scheduler").SetTotal(Clamp(stats.RuntimeHits));
        _probeHits.WithLabels("scheduler_on_requests").SetTotal(Clamp(stats.RuntimeRequestHits));
        _probeHits.WithLabels("client").SetTotal(Clamp(stats.ClientHits));
        RequestsLost.WithLabels("ring_full").SetTotal(Clamp(stats.Drops));
        RequestsLost.WithLabels("unmatched_end").SetTotal(Clamp(stats.UnmatchedEnds));
        RequestsLost.WithLabels("no_config").SetTotal(Clamp(stats.StartNoConfig));
        RequestsLost.WithLabels("syscalls_beyond_cap").SetTotal(Clamp(stats.SyscallsLost));
        RequestsLost.WithLabels("peers_beyond_cap").SetTotal(Clamp(stats.PeersLost));
        RequestsLost.WithLabels("calls_beyond_cap").SetTotal(Clamp(stats.CallsLost));
        RequestsLost.WithLabels("dial_unmatched").SetTotal(Clamp(stats.DialsUnmatched));
        RequestsLost.WithLabels("inflight_full").SetTotal(Clamp(stats.InflightFull));
        RequestsLost.WithLabels("abandoned").SetTotal(Clamp(stats.Abandoned));
        RequestsLost.WithLabels("process_exit").SetTotal(Clamp(stats.ExitedInFlight));
        RequestsLost.WithLabels("breakdown_state_full").SetTotal(Clamp(stats.StateFull));
    }

    /// <summary>Sets one program's run time and runs (from <see cref="BpfProgramStats.Read"/>) and the stats-enabled gauge.</summary>
    public void SetBpfProgramStats(string program, BpfProgramStats stats)
    {
        BpfRunTime.WithLabels(program).SetTotal(stats.RunTimeNs);
        BpfRuns.WithLabels(program).SetTotal(stats.RunCount);
        BpfStatsEnabled.Set(BpfProgramStats.StatsEnabled ? 1 : 0);
    }

    private static long Clamp(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;
}
