using Sonde.Interop.Libbpf;
using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sonde.Capture;
using Sonde.Config;
using Sonde.Discovery;
using Sonde.GoBinary;
using Sonde.Hosting;
using Sonde.Interop.LibC;
using Sonde.Tracing;

namespace Sonde.Service;

/// <summary>
/// `sonde run`'s pipeline: finds the processes the selectors match (a /proc
/// scan at start and on reload, then exec/exit events from the kernel),
/// attaches the probe plan of each to it, and feeds every completed request
/// with its service name to a sink (the metrics). One control loop applies
/// attach/detach in order; the consumer loop reads the ring buffer and
/// advances the heartbeat the systemd watchdog watches.
/// </summary>
public sealed partial class TracingPipeline : ISondePipeline, IRequestSink
{
    private readonly IServiceRequestSink _sink;
    private readonly ILogger _log;
    private SondeConfig _config = new();
    private HttpTracer? _tracer;
    private ProcessEvents? _procs;
    private readonly Dictionary<int, TracedProcess> _traced = new();
    /// <summary>
    /// Executables analysed, traced (or null: not traceable), by file version: a
    /// build copied over a file in place, or a new file given a freed inode number,
    /// is another program and is analysed again.
    /// </summary>
    private readonly Dictionary<FileVersion, TracedBinary?> _binaries = new();
    /// <summary>
    /// Writes to traced executables. Uprobes belong to the inode: a new build
    /// written over a traced file in place would start with the old build's
    /// breakpoints at the old offsets, in the middle of its own instructions. On
    /// the first write its probes are detached (`sonde run` says so), and its next
    /// process is analysed afresh.
    /// </summary>
    private Inotify? _writes;
    private Task? _writeWatcher;
    /// <summary>How long an executable with no traced process keeps its probes (a restart reuses them).</summary>
    public static readonly TimeSpan UnusedBinaryGrace = TimeSpan.FromSeconds(60);
    private Timer? _sweep;
    private readonly ConcurrentDictionary<int, string> _serviceByPid = new();
    /// <summary>
    /// Processes forgotten (exit, exec, no longer selected) whose last requests may
    /// still be in the ring buffer: their service, and when they were forgotten
    /// (CLOCK_MONOTONIC). A request that started before then is still theirs. The
    /// consumer drops an entry once it has found the ring empty after that time:
    /// everything the process submitted before it went was read by then.
    /// </summary>
    private readonly ConcurrentDictionary<int, (string Service, ulong GoneNs)> _retiring = new();
    /// <summary>Processes of binaries traced with an unverified layout (written by the event loop, read by the consumer).</summary>
    private readonly ConcurrentDictionary<int, bool> _unverifiedPids = new();
    /// <summary>Consumer loop only: the check of those processes' first requests, and the ones that failed it.</summary>
    private readonly LayoutCheck _layoutCheck = new();
    private readonly HashSet<int> _layoutMismatched = new();
    private readonly Channel<(ProcessEventKind Kind, int Pid)> _work = Channel.CreateUnbounded<(ProcessEventKind, int)>();  // kind 0: sweep unused binaries
    private readonly CancellationTokenSource _stop = new();
    private Task? _consumer, _control, _events;
    private long _heartbeat, _requests;
    private long _rateStartTicks = Environment.TickCount64, _rateStartRequests;
    private double _rate;
    private readonly object _gate = new();
    private readonly List<Task> _detaching = new();

    public TracingPipeline(IServiceRequestSink sink, ILoggerFactory loggers)
    {
        _sink = sink;
        _log = loggers.CreateLogger("Sonde.Service");
    }

    public long Heartbeat => Interlocked.Read(ref _heartbeat);

    /// <summary>Processes attached right now.</summary>
    public IReadOnlyCollection<int> TracedPids { get { lock (_gate) return _traced.Keys.ToList(); } }

    public TracerStats? Stats => _tracer?.ReadStats();

    /// <summary>The tracer, once started (for self-metrics).</summary>
    public HttpTracer? Tracer => _tracer;

    /// <summary>Called with a short reason when a matching process can't be traced.</summary>
    public Action<string>? AttachFailed { get; init; }

    public string Status
    {
        get
        {
            long now = Environment.TickCount64, reqs = Interlocked.Read(ref _requests);
            if (now - _rateStartTicks >= 5000)
            {
                _rate = (reqs - _rateStartRequests) * 1000.0 / (now - _rateStartTicks);
                _rateStartTicks = now;
                _rateStartRequests = reqs;
            }
            int targets;
            lock (_gate) targets = _traced.Count;
            ulong lost = _tracer?.ReadStats().RequestsLost ?? 0;
            return $"{targets} target{(targets == 1 ? "" : "s")}, {_rate:0} req/s, {reqs} requests, {lost} lost";
        }
    }

    public Task StartAsync(SondeConfig config, CancellationToken ct)
    {
        KernelSupport.Check();
        _config = config;
        _tracer = new HttpTracer((uint)config.Tracing.RingbufMib << 20, config.Tracing.Breakdown,
            maxBinaries: config.Tracing.MaxExecutables, maxInflight: (uint)config.Tracing.MaxInFlight);
        if (_tracer.BreakdownUnavailable is { } why) LogBreakdownOff(_log, why);
        if (_tracer.Breakdown)
        {
            _tracer.AttachKernelEvents();
            LogStealClock(_log, HttpTracer.StealClock);
        }
        _procs = new ProcessEvents();
        _writes = Inotify.Create();
        _writeWatcher = Task.Run(WatchWrites);
        // Events first, then the scan: a process that starts in between is seen twice, never missed.
        _events = Task.Run(() => _procs.RunAsync((k, pid) => _work.Writer.TryWrite((k, pid)), _stop.Token));
        Rescan();
        _consumer = Task.Run(() => _tracer.RunAsync(this, _stop.Token));
        _control = Task.Run(ControlLoop);
        _sweep = new Timer(_ => _work.Writer.TryWrite((0, 0)), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Takes a new configuration: its targets are matched against every running
    /// process again, on the control loop (as exec, exit and sweeps are), so a reload
    /// and an exec never attach the same executable twice. Completes once done.
    /// </summary>
    public Task ReloadAsync(SondeConfig config, CancellationToken ct)
    {
        if (config.Tracing != _config.Tracing)
            LogTracingNeedsRestart(_log);
        lock (_gate) _config = config with { Tracing = _config.Tracing };
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reloads.Enqueue(done);
        if (!_work.Writer.TryWrite((Reload, 0))) done.TrySetResult();   // stopping: nothing to re-match
        return done.Task.WaitAsync(ct);
    }

    /// <summary>Control-loop work item: re-match every process after a reload.</summary>
    private const ProcessEventKind Reload = (ProcessEventKind)0x200;
    private readonly ConcurrentQueue<TaskCompletionSource> _reloads = new();

    public async Task StopAsync(CancellationToken ct)
    {
        _sweep?.Dispose();
        _work.Writer.TryComplete();
        _stop.Cancel();
        foreach (var t in new[] { _consumer, _control, _events, _writeWatcher })
            if (t is not null) { try { await t.WaitAsync(ct); } catch (OperationCanceledException) { } }
        Task[] pending;
        lock (_gate) pending = _detaching.ToArray();
        await Task.WhenAll(pending).WaitAsync(ct);
        lock (_gate) _traced.Clear();
        _tracer?.Dispose();
        _procs?.Dispose();
        _writes?.Dispose();
    }

    /// <summary>Posts each write to a watched executable to the control loop.</summary>
    private void WatchWrites()
    {
        while (!_stop.IsCancellationRequested)
            foreach (var (wd, mask) in _writes!.Read(200))
                if ((mask & Inotify.IN_MODIFY) != 0) _work.Writer.TryWrite((Rewritten, wd));
    }

    /// <summary>Control-loop work item: a traced executable (by its inotify watch) is being written.</summary>
    private const ProcessEventKind Rewritten = (ProcessEventKind)0x101;

    /// <summary>
    /// A traced executable's file is being written (no process runs it: the kernel
    /// refuses writes to a running executable): its probes come off now, before a
    /// process of the new content can start under them.
    /// </summary>
    private void DetachRewritten(int wd)
    {
        List<(FileVersion Id, TracedBinary Binary)> hit;
        lock (_gate)
        {
            hit = _binaries.Where(b => b.Value is { } tb && tb.Watch == wd).Select(b => (b.Key, b.Value!)).ToList();
            foreach (var (id, _) in hit) _binaries.Remove(id);
        }
        foreach (var (_, b) in hit) DropRewritten(b);
    }

    /// <summary>Detaches an executable whose file holds another version now; it is no longer in <see cref="_binaries"/>.</summary>
    private void DropRewritten(TracedBinary b)
    {
        foreach (var pid in b.Pids.ToList()) Forget(pid, detachNow: true);
        if (b.Watch >= 0) _writes!.Unwatch(b.Watch);
        _tracer!.Detach(b.Links);
        _tracer.ReleaseBinary(b.ConfigIndex);
        LogRewritten(_log, b.Exe, b.Links.Sum(l => l.Probes));
        Interlocked.Increment(ref _rewritesDetached);
    }

    private int _rewritesDetached;

    /// <summary>Executables whose probes came off because their file was written over in place (all of them closed), seen by the watch or at the next exec.</summary>
    public int RewritesDetached => Volatile.Read(ref _rewritesDetached);

    /// <summary>Matches every running process against the selectors: attach new matches, detach the rest.</summary>
    private void Rescan()
    {
        var seen = new HashSet<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out int pid) && pid != Environment.ProcessId)
            {
                seen.Add(pid);
                Consider(pid);
            }
        List<int> gone;
        lock (_gate) gone = _traced.Keys.Where(p => !seen.Contains(p)).ToList();
        foreach (var pid in gone) Forget(pid);
    }

    private async Task ControlLoop()
    {
        await foreach (var (kind, pid) in _work.Reader.ReadAllAsync())
        {
            try
            {
                if (kind == 0) ReleaseUnusedBinaries();
                else if (kind == Reload)
                {
                    try { Rescan(); }
                    finally { while (_reloads.TryDequeue(out var done)) done.TrySetResult(); }
                }
                else if (kind == Rewritten) DetachRewritten(pid);
                else if (kind == Recheck) { if (_lateListeners.ContainsKey(pid)) Consider(pid, fresh: true); }
                else if (kind == ProcessEventKind.Exit) { _lateListeners.Remove(pid); Forget(pid); }
                else { _lateListeners.Remove(pid); Forget(pid); Consider(pid, fresh: true); }   // exec replaces the image
            }
            catch (Exception e) { LogControlFailed(_log, pid, e.Message); }
        }
    }

    /// <summary>Control-loop work item: look again at a fresh process that may start listening.</summary>
    private const ProcessEventKind Recheck = (ProcessEventKind)0x100;

    /// <summary>
    /// When a fresh process is looked at again for a <c>port</c> target (a server
    /// listens some time after its exec: it reads its config, connects to its
    /// database...): after these delays from its exec, then never.
    /// </summary>
    public static IReadOnlyList<TimeSpan> LateListenerChecks { get; } =
        [.. new[] { 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000 }.Select(ms => TimeSpan.FromMilliseconds(ms))];

    /// <summary>Control loop only: fresh processes no selector matched yet, and how many looks they had.</summary>
    private readonly Dictionary<int, int> _lateListeners = new();

    /// <summary>
    /// A process no selector matches may still match a <c>port</c> one once it
    /// listens: look again on <see cref="LateListenerChecks"/>' schedule, counted
    /// from its exec. Only with a port selector in the config, and only for
    /// processes exec'd while Sonde runs (a scan's processes are looked at once).
    /// </summary>
    private void WatchForLateListener(int pid, SondeConfig config)
    {
        if (!config.Targets.Any(t => t.Kind == TargetKind.Port)) return;
        int done = _lateListeners.GetValueOrDefault(pid);
        if (done >= LateListenerChecks.Count)
        {
            _lateListeners.Remove(pid);
            return;
        }
        _lateListeners[pid] = done + 1;
        var wait = LateListenerChecks[done] - (done == 0 ? TimeSpan.Zero : LateListenerChecks[done - 1]);
        _ = Task.Delay(wait, _stop.Token).ContinueWith(
            _ => _work.Writer.TryWrite((Recheck, pid)), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    /// <summary>
    /// Traces <paramref name="pid"/> if a selector matches it; for a process
    /// already traced (a reload), stops if none matches any more and takes
    /// the service name of the selector that does.
    /// </summary>
    /// <param name="fresh">the process just exec'd (or is being looked at again since): one that matches
    /// nothing yet is watched for a late listener.</param>
    private void Consider(int pid, bool fresh = false)
    {
        string? exe;
        try { exe = new FileInfo($"/proc/{pid}/exe").LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        if (exe is null) return;
        SondeConfig config;
        bool traced;
        lock (_gate)
        {
            config = _config;
            traced = _traced.ContainsKey(pid);
        }
        var match = TargetMatch.Find(config.Targets, pid, exe);
        if (traced)
        {
            if (match is null) Forget(pid);
            else _serviceByPid[pid] = match.Value.Service;
            return;
        }
        if (match is null)
        {
            if (fresh) WatchForLateListener(pid, config);
            return;
        }
        _lateListeners.Remove(pid);
        if (!FileVersion.TryOf($"/proc/{pid}/exe", out var id)) return;
        var binary = Binary(id, pid, exe);
        if (binary is null) return;
        // Probes for every process of the file where a target names the file (exe) or
        // the program (process); otherwise for this process alone, so that the
        // file's untraced processes take no breakpoint.
        bool fileWide = match.Value.Selector.Kind is TargetKind.Exe or TargetKind.Process;
        if (!AttachFor(binary, pid, exe, fileWide, out var own)) return;
        _serviceByPid[pid] = match.Value.Service;
        if (binary.LayoutUnverified) _unverifiedPids[pid] = true;
        _tracer!.SetTraced(pid, true);
        lock (_gate)
        {
            _traced[pid] = new TracedProcess(pid, match.Value.Service, exe, id) { Links = own };
            binary.Pids.Add(pid);
            binary.UnusedSince = 0;
        }
        LogAttached(_log, pid, exe, match.Value.Service);
    }

    /// <summary>
    /// Attaches what tracing <paramref name="pid"/> needs: the file's probes for all its
    /// processes (once), or, unless those are there already, probes of its own.
    /// False (logged and counted) when the kernel refused them.
    /// </summary>
    private bool AttachFor(TracedBinary binary, int pid, string exe, bool fileWide, out IReadOnlyList<BpfLink> own)
    {
        own = [];
        try
        {
            bool covered;
            lock (_gate) covered = binary.Links.Count > 0;
            if (covered) return true;
            // Attach by /proc/PID/exe: the kernel resolves it to the file's inode.
            if (fileWide)
            {
                var links = _tracer!.Attach(binary.Plan, binary.ConfigIndex, $"/proc/{pid}/exe", []);
                lock (_gate) binary.Links.AddRange(links);
            }
            else own = _tracer!.Attach(binary.Plan, binary.ConfigIndex, exe, [pid]);
            return true;
        }
        catch (TraceException e)
        {
            LogNotTraceable(_log, pid, exe, e.Message);
            AttachFailed?.Invoke(e.InnerException is Sonde.Interop.Libbpf.BpfException ? "attach_error" : e.Reason);
            return false;
        }
    }

    /// <summary>The probes of an executable, attached on first use; null when it can't be traced.</summary>
    private TracedBinary? Binary(FileVersion id, int pid, string exe)
    {
        List<TracedBinary> stale;
        lock (_gate)
        {
            if (_binaries.TryGetValue(id, out var known)) return known;
            // Another version of the same inode (a write the watch didn't report in
            // time): its probes are on this file too, at the old build's offsets.
            var old = _binaries.Where(b => b.Key.Id == id.Id && b.Value is not null).ToList();
            foreach (var b in old) _binaries.Remove(b.Key);
            stale = [.. old.Select(b => b.Value!)];
        }
        foreach (var b in stale) DropRewritten(b);
        TracedBinary? result = null;
        try
        {
            var go = GoExecutable.Open($"/proc/{pid}/exe");
            bool breakdown = _config.Tracing.Breakdown && _tracer!.Breakdown;
            var analysis = TargetAnalysis.For(go, _config.Tracing.EndProbe, breakdown, _config.Tracing.Calls);
            foreach (var w in analysis.Warnings) LogBreakdownUnavailable(_log, pid, w);
            var (plan, config, source) = (analysis.Plan, analysis.Config, analysis.Source);
            config.FilterTgids = 1;
            if (!_tracer!.HasFreeSlot) ReleaseIdleBinaryNow();
            int index = _tracer!.RegisterBinary(config);
            result = new TracedBinary(exe, plan, index) { LayoutUnverified = analysis.LayoutUnverified };
            try { result.Watch = _writes!.Watch($"/proc/{pid}/exe", Inotify.IN_MODIFY); }
            catch (NativeCallException e) { LogWatchFailed(_log, exe, e.Message); }
            LogBinary(_log, exe, go.BuildInfo.Described, plan.CostSummary, source);
        }
        catch (Exception e) when (e is GoBinaryException or TraceException or IOException or UnauthorizedAccessException)
        {
            LogNotTraceable(_log, pid, exe, e.Message);
            AttachFailed?.Invoke(e switch
            {
                GoBinaryException g => g.Reason,
                TraceException t when t.InnerException is Sonde.Interop.Libbpf.BpfException => "attach_error",
                TraceException t => t.Reason,
                _ => "unreadable",
            });
        }
        lock (_gate) _binaries[id] = result;
        ReleaseAnalysisMemory();
        return result;
    }

    /// <summary>
    /// Analysing an executable reads it whole (a Go binary: 5-50 MB) and parses
    /// its symbols and DWARF: garbage, mostly in the large-object heap, that the
    /// steady daemon never reuses. An aggressive collection gives those pages
    /// back to the system instead of keeping them as the GC's free space
    /// (make bench: RSS with one traced executable, idle). New executables are
    /// rare; processes of a known one cost nothing here.
    /// </summary>
    private static void ReleaseAnalysisMemory() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <param name="detachNow">detach its own probes before returning (the file was written over:
    /// they sit at the old build's offsets); otherwise off the control loop.</param>
    private void Forget(int pid, bool detachNow = false)
    {
        TracedProcess? p;
        lock (_gate)
        {
            if (!_traced.Remove(pid, out p)) return;
            if (_binaries.TryGetValue(p.Binary, out var b) && b is not null && b.Pids.Remove(pid) && b.Pids.Count == 0)
                b.UnusedSince = Environment.TickCount64;
        }
        _tracer!.SetTraced(pid, false);
        if (p.Links.Count > 0)
        {
            var tracer = _tracer;
            if (detachNow) tracer.Detach(p.Links);
            else
            {
                var t = Task.Run(() => tracer.Detach(p.Links));
                lock (_gate) _detaching.Add(t);
            }
        }
        // Retiring first, then removed: the consumer, which looks in both, never sees neither.
        if (_serviceByPid.TryGetValue(pid, out var service))
        {
            _retiring[pid] = (service, MonotonicClock.NowNs());
            _serviceByPid.TryRemove(pid, out _);
        }
        _unverifiedPids.TryRemove(pid, out _);
        LogDetached(_log, pid, p.Service);
    }

    /// <summary>
    /// Detaches executables no traced process has used for <see cref="UnusedBinaryGrace"/>.
    /// Closing uprobe links waits for the kernel (~1 s for 10 on 6.18): done off the control loop.
    /// </summary>
    private void ReleaseUnusedBinaries()
    {
        long now = Environment.TickCount64;
        List<(FileVersion Id, TracedBinary Binary)> idle;
        lock (_gate)
        {
            idle = _binaries.Where(b => b.Value is { Pids.Count: 0, UnusedSince: > 0 } tb && now - tb.UnusedSince >= UnusedBinaryGrace.TotalMilliseconds)
                .Select(b => (b.Key, b.Value!)).ToList();
            foreach (var (id, _) in idle) _binaries.Remove(id);
            _detaching.RemoveAll(t => t.IsCompleted);
        }
        foreach (var (_, b) in idle)
        {
            if (b.Watch >= 0 && !WatchShared(b)) _writes!.Unwatch(b.Watch);
            var t = Task.Run(() => Release(b));
            lock (_gate) _detaching.Add(t);
        }
    }

    /// <summary>
    /// Every slot is taken: the executable no process has used for the longest time
    /// gives its slot up now, before its grace period ends, so only executables with
    /// running processes ever hold slots (<see cref="HttpTracer.MaxBinaries"/> of them).
    /// Detached here, on the control loop, since the slot must be free before reuse.
    /// </summary>
    private void ReleaseIdleBinaryNow()
    {
        TracedBinary? b;
        lock (_gate)
        {
            var idle = _binaries.Where(e => e.Value is { Pids.Count: 0, UnusedSince: > 0 }).OrderBy(e => e.Value!.UnusedSince).FirstOrDefault();
            if (idle.Value is null) return;   // all in use: RegisterBinary says so
            _binaries.Remove(idle.Key);
            b = idle.Value;
        }
        if (b.Watch >= 0 && !WatchShared(b)) _writes!.Unwatch(b.Watch);
        Release(b);
        Interlocked.Increment(ref _slotsReclaimed);
    }

    /// <summary>Detaches a binary taken out of <c>_binaries</c> and gives its slot back (a probe still attached would read the next binary's offsets).</summary>
    private void Release(TracedBinary b)
    {
        _tracer!.Detach(b.Links);
        _tracer.ReleaseBinary(b.ConfigIndex);
        LogBinaryReleased(_log, b.Exe, b.Links.Sum(l => l.Probes));
    }

    private int _slotsReclaimed;

    /// <summary>Slots given up early by an idle executable because every slot was taken.</summary>
    public int SlotsReclaimed => Volatile.Read(ref _slotsReclaimed);

    /// <summary>Whether another traced version of the same inode holds the same watch (inotify gives one per inode).</summary>
    private bool WatchShared(TracedBinary b)
    {
        lock (_gate) return _binaries.Values.Any(o => o is not null && o != b && o.Watch == b.Watch);
    }

    /// <summary>
    /// Called on the event loop at the end of each batch of requests (and when idle,
    /// at least every 100 ms), before the heartbeat moves: what runs here delays the loop.
    /// </summary>
    public Action? BatchEnded { get; set; }

    /// <summary>Entries in one of the tracer's hash maps now (see <see cref="HttpTracer.MapEntries"/>); 0 before it starts.</summary>
    public int BpfMapEntries(string map) => _tracer?.MapEntries(map) ?? 0;

    /// <summary>Processes and executables currently tracked (for tests and self-metrics).</summary>
    public (int Processes, int Binaries, int Probes) Counts
    {
        get { lock (_gate) return (_traced.Count, _binaries.Values.Count(b => b is not null), _tracer?.AttachedProbes ?? 0); }
    }

    void IRequestSink.OnRequest(in RequestView request)
    {
        Interlocked.Increment(ref _requests);
        if (_unverifiedPids.ContainsKey(request.Pid))
        {
            // Requests of a process whose layout proved wrong are not recorded; the failure is counted once.
            if (_layoutMismatched.Contains(request.Pid)) return;
            if (_layoutCheck.Observe(request) is { } problem)
            {
                _layoutMismatched.Add(request.Pid);
                LogLayoutMismatch(_log, request.Pid, problem);
                AttachFailed?.Invoke("layout_mismatch");
                return;
            }
        }
        if (!_retiring.IsEmpty && _retiring.TryGetValue(request.Pid, out var gone) && request.StartNs < gone.GoneNs)
            _sink.OnRequest(gone.Service, request);
        else if (_serviceByPid.TryGetValue(request.Pid, out var service))
            _sink.OnRequest(service, request);
    }

    void IRequestSink.OnBatchEnd()
    {
        BatchEnded?.Invoke();
        Interlocked.Increment(ref _heartbeat);
        if (!_retiring.IsEmpty && _tracer is { } tracer && tracer.Reader.Pending == 0)
        {
            ulong now = MonotonicClock.NowNs();
            foreach (var (pid, gone) in _retiring)
                if (gone.GoneNs < now && _retiring.TryRemove(new KeyValuePair<int, (string, ulong)>(pid, gone)))
                    tracer.ForgetProcess(pid, gone.GoneNs);   // what it left in flight: counted, not left to fill the map
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "tracing pid {Pid} ({Exe}) as service {Service}")]
    private static partial void LogAttached(ILogger log, int pid, string exe, string service);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "pid {Pid} of service {Service} is gone")]
    private static partial void LogDetached(ILogger log, int pid, string service);

    [LoggerMessage(EventId = 107, Level = LogLevel.Information, Message = "{Exe}: no traced process for a while, {Probes} probes detached")]
    private static partial void LogBinaryReleased(ILogger log, string exe, int probes);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "{Exe}: {GoVersion}, {Cost}; offsets from {Source}")]
    private static partial void LogBinary(ILogger log, string exe, string goVersion, string cost, string source);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "pid {Pid} ({Exe}) matches a target but can't be traced: {Reason}")]
    private static partial void LogNotTraceable(ILogger log, int pid, string exe, string reason);

    [LoggerMessage(EventId = 104, Level = LogLevel.Error, Message = "attaching to pid {Pid} ({Exe}) failed: {Reason}")]
    private static partial void LogAttachFailed(ILogger log, int pid, string exe, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "handling pid {Pid} failed: {Reason}")]
    private static partial void LogControlFailed(ILogger log, int pid, string reason);

    [LoggerMessage(EventId = 109, Level = LogLevel.Error, Message = "pid {Pid}: {Problem}; its requests are not recorded (rebuild it with DWARF, or use a Sonde that knows its Go)")]
    private static partial void LogLayoutMismatch(ILogger log, int pid, string problem);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "{Why}: tracing latency only, with the breakdown off")]
    private static partial void LogBreakdownOff(ILogger log, string why);

    [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "pid {Pid}: {Warning}")]
    private static partial void LogBreakdownUnavailable(ILogger log, int pid, string warning);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "{Exe} was written over in place: its {Probes} probes detached (they sat at the old build's offsets); its next process is analysed afresh")]
    private static partial void LogRewritten(ILogger log, string exe, int probes);

    [LoggerMessage(EventId = 114, Level = LogLevel.Warning, Message = "{Exe}: writes to it can't be watched ({Reason}); a build copied over it in place is seen only when it next starts")]
    private static partial void LogWatchFailed(ILogger log, string exe, string reason);

    [LoggerMessage(EventId = 115, Level = LogLevel.Information, Message = "breakdown on: {StealClock}")]
    private static partial void LogStealClock(ILogger logger, string stealClock);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "the tracing section changed: it takes effect at the next restart")]
    private static partial void LogTracingNeedsRestart(ILogger log);
}
