using System.Buffers.Binary;
using System.Reflection;
using Sonde.Interop.Libbpf;
using Sonde.RingBuffer;

namespace Sonde.Tracing;

/// <summary>
/// Loads bpf/http.bpf.o, attaches the probe plans of the traced binaries, and
/// feeds each completed request to a sink straight from the ring buffer.
/// Dispose detaches every probe (and unloads everything).
/// </summary>
public sealed class HttpTracer : IDisposable
{
    public const uint DefaultRingBufferBytes = 8 << 20;
    /// <summary>Distinct executables traced at the same time (the `configs` map's slots; bpf/http.h SONDE_MAX_TARGETS).</summary>
    public const int DefaultMaxBinaries = 1024;
    /// <summary>Requests in flight at the same time, over all traced processes (the `inflight` map).</summary>
    public const uint DefaultMaxInflight = 16384;
    private static readonly TimeSpan IdleTick = TimeSpan.FromMilliseconds(100);

    private readonly BpfObject _object;
    private readonly BpfMap _configs;
    private readonly BpfMap _stats;
    private readonly RingBufferReader _reader;
    private readonly BpfMap _inflight;
    private readonly List<BpfLink> _links = new();
    private long _exitedInFlight;
    private readonly object _linksLock = new();
    private int _nextConfig;
    /// <summary>Slots released by <see cref="ReleaseBinary"/>, reused before new ones.</summary>
    private readonly Stack<int> _freeConfigs = new();

    /// <param name="breakdown">
    /// Load the breakdown's programs (scheduler uprobes, tp_btf tracepoints). Off,
    /// they are neither loaded nor verified. On, a kernel that refuses them leaves
    /// the tracer without them (<see cref="BreakdownUnavailable"/> says why): latency
    /// tracing never fails for the breakdown's sake, as ebpf_exporter attaches loosely.
    /// </param>
    /// <param name="uprobeMulti">
    /// Attach with multi-uprobe links (one per program and file or process: fast to
    /// detach, and per process with no breakpoint in the file's other processes);
    /// null: where the kernel has them (Linux 6.6+), unless SONDE_UPROBE_MULTI=0 asks
    /// for single perf-event uprobes (each program then keeps its own run-time
    /// statistics: `make bench` measures the cost of each that way). False: single
    /// perf-event uprobes.
    /// </param>
    /// <param name="maxBinaries">Slots for distinct executables at the same time (<see cref="DefaultMaxBinaries"/>).</param>
    /// <param name="maxInflight">Requests in flight at the same time (<see cref="DefaultMaxInflight"/>); a start beyond is counted as lost.</param>
    public HttpTracer(uint ringBufferBytes = DefaultRingBufferBytes, bool breakdown = true, bool? uprobeMulti = null,
        int maxBinaries = DefaultMaxBinaries, uint maxInflight = DefaultMaxInflight)
    {
        UsesUprobeMulti = uprobeMulti ?? (KernelHasUprobeMulti && Environment.GetEnvironmentVariable("SONDE_UPROBE_MULTI") != "0");
        if (ringBufferBytes < 4096 || (ringBufferBytes & (ringBufferBytes - 1)) != 0)
            throw new TraceException($"ring buffer size must be a power of two of at least 4096 bytes, not {ringBufferBytes}");
        if (maxBinaries is < 1 or > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(maxBinaries));   // a record's config is a u16
        if (maxInflight < 1) throw new ArgumentOutOfRangeException(nameof(maxInflight));
        MaxBinaries = maxBinaries;
        var sizes = (ringBufferBytes, (uint)maxBinaries, maxInflight);
        try
        {
            _object = OpenAndLoad(sizes, breakdown, UsesUprobeMulti);
        }
        catch (BpfException e) when (breakdown)
        {
            BreakdownUnavailable = $"the kernel refused the breakdown's programs ({e.Message})";
            breakdown = false;
            try { _object = OpenAndLoad(sizes, breakdown, UsesUprobeMulti); }
            catch (BpfException e2) { throw new TraceException("the kernel refused Sonde's BPF programs: " + e2.Message, e2); }
        }
        catch (BpfException e) { throw new TraceException("the kernel refused Sonde's BPF programs: " + e.Message, e); }
        Breakdown = breakdown;
        try
        {
            PidNamespace.Configure(_object);
            if (UsesUprobeMulti)
            {
                var progs = _object.Map("uprobe_progs");
                for (uint i = 0; i < UprobePrograms.Length; i++)
                    if (_object.Program(UprobePrograms[i]).Fd is var fd and >= 0) progs.Update(i, (uint)fd);
            }
            _configs = _object.Map("configs");
            _stats = _object.Map("stats");
            _inflight = _object.Map("inflight");
            // Batches of 1/8 ring: the threshold at which bpf/http.bpf.c's wakeup_flags() wakes the reader.
            _reader = new RingBufferReader(_object.Map("events").Fd, ringBufferBytes, batchBytes: ringBufferBytes / 8);
        }
        catch
        {
            _object.Dispose();
            throw;
        }
        RingBufferBytes = ringBufferBytes;
    }

    private static BpfObject OpenAndLoad((uint Ring, uint Binaries, uint Inflight) sizes, bool breakdown, bool uprobeMulti)
    {
        var o = BpfObject.Open(EmbeddedObject("http.bpf.o"));
        try
        {
            o.Map("events").SetMaxEntries(sizes.Ring);
            o.Map("configs").SetMaxEntries(sizes.Binaries);
            o.Map("inflight").SetMaxEntries(sizes.Inflight);
            // The goroutines of requests in flight by goid, for calls on goroutines they start.
            o.Map("goids").SetMaxEntries(sizes.Inflight);
            if (uprobeMulti)
                foreach (var p in UprobePrograms.Append(UprobeEntry)) o.Program(p).SetUprobeMulti();
            if (!breakdown)
            {
                foreach (var p in BreakdownPrograms.Concat(CallPrograms)) o.Program(p).SetAutoload(false);
                // bpf/http.bpf.c's sonde_load: without the breakdown a request in flight needs only
                // the head of struct inflight (lite_bytes), and the programs drop the rest's code.
                var load = o.Map(".rodata.sonde").InitialValue;
                uint lite = BinaryPrimitives.ReadUInt32LittleEndian(load[4..]);
                BinaryPrimitives.WriteUInt32LittleEndian(load, 0);
                o.Map("inflight").SetValueSize(lite);
            }
            o.Load();
            return o;
        }
        catch
        {
            o.Dispose();
            throw;
        }
    }

    /// <summary>Whether the kernel has multi-uprobe links (struct bpf_uprobe_multi_link in its BTF: Linux 6.6+).</summary>
    public static bool KernelHasUprobeMulti => KernelFacts.UprobeMulti;

    /// <summary>What this kernel has, from one read of its BTF.</summary>
    private static readonly (bool UprobeMulti, bool StealClock) KernelFacts = ReadKernelFacts();

    private static (bool, bool) ReadKernelFacts()
    {
        using var btf = KernelBtf.Load();
        return (btf.HasStruct("bpf_uprobe_multi_link"),
            btf.HasMember("rq", "prev_steal_time_rq") && btf.HasMember("sched_entity", "cfs_rq"));
    }

    /// <summary>Whether probes are attached with multi-uprobe links (see the constructor).</summary>
    public bool UsesUprobeMulti { get; }

    /// <summary>Whether the breakdown's programs are loaded.</summary>
    public bool Breakdown { get; }

    /// <summary>Why the breakdown's programs could not be loaded when they were asked for; null otherwise.</summary>
    public string? BreakdownUnavailable { get; }

    /// <summary>
    /// Where the stolen category comes from, as the attach line says it: the
    /// scheduler's steal clock (rq->prev_steal_time_rq, bounded by rq->clock -
    /// rq->clock_task, through the current task's run queue: see read_steal_clock
    /// in bpf/http.bpf.c), or why it stays 0.
    /// </summary>
    public static string StealClock => KernelFacts.StealClock
            ? "stolen time from the scheduler's steal clock"
            : "stolen stays 0: this kernel keeps no steal clock (CONFIG_PARAVIRT_TIME_ACCOUNTING)";

    /// <summary>The programs only the breakdown uses: Go scheduler uprobes and kernel tracepoints.</summary>
    public static readonly string[] BreakdownPrograms =
    [
        "sonde_go_park", "sonde_go_execute", "sonde_go_ready", "sonde_go_stw_start", "sonde_go_stw_end",
        "sonde_sched_switch", "sonde_sched_wakeup", "sonde_sys_enter", "sonde_sys_exit", "sonde_task_exit",
    ];

    /// <summary>The outgoing calls' programs (net/http's client): only with the breakdown.</summary>
    public static readonly string[] CallPrograms =
    [
        "sonde_client_start", "sonde_client_dial", "sonde_client_conn", "sonde_client_end", "sonde_client_h2_conn", "sonde_client_body",
        "sonde_dial_start", "sonde_dial_resolved", "sonde_dial_tls", "sonde_dial_tls_done", "sonde_dial_end",
    ];

    public uint RingBufferBytes { get; }

    /// <summary>Distinct executables that can be traced at the same time.</summary>
    public int MaxBinaries { get; }

    /// <summary>How full the ring buffer is now: 0 (empty) to 1 (full: further requests are drops).</summary>
    public double RingBufferFill => Math.Min(1.0, (double)_reader.Pending / _reader.Size);

    /// <summary>Every BPF program of bpf/http.bpf.c, for their run-time statistics.</summary>
    public static readonly string[] ProgramNames =
    [
        "sonde_http_start", "sonde_http_end", "sonde_http_end_ret", "sonde_grpc_start", "sonde_grpc_status",
        "sonde_gin_route", "sonde_echo_route", "sonde_chi_route", "sonde_mux_route",
        "sonde_client_start", "sonde_client_dial", "sonde_client_conn", "sonde_client_end", "sonde_client_h2_conn", "sonde_client_body",
        "sonde_dial_start", "sonde_dial_resolved", "sonde_dial_tls", "sonde_dial_tls_done", "sonde_dial_end",
        "sonde_go_park", "sonde_go_execute", "sonde_go_ready", "sonde_go_stw_start", "sonde_go_stw_end",
        "sonde_sched_switch", "sonde_sched_wakeup", "sonde_sys_enter", "sonde_sys_exit", "sonde_task_exit",
    ];

    /// <summary>The uprobe programs, in the order of their index in bpf/http.bpf.c's uprobe_progs.</summary>
    /// <summary>The kernel-side programs of the breakdown (tp_btf): attached once, for all targets.</summary>
    private static readonly string[] KernelPrograms = ["sonde_sched_switch", "sonde_sched_wakeup", "sonde_sys_enter", "sonde_sys_exit", "sonde_task_exit"];

    public static readonly string[] UprobePrograms = [.. ProgramNames.Except(KernelPrograms)];

    /// <summary>Kernel tracepoints the breakdown attaches: sched_switch, sched_wakeup, sys_enter, sys_exit, sched_process_exit.</summary>
    public static int KernelTracepoints => KernelPrograms.Length;

    /// <summary>The one program multi-uprobe links attach: it tail-calls the probe's own (its cookie's high half).</summary>
    public const string UprobeEntry = "sonde_uprobe";

    /// <summary>
    /// The programs whose run-time statistics mean something: with multi-uprobe links
    /// every uprobe runs as <see cref="UprobeEntry"/> (the kernel counts a tail-called
    /// program's runs and time in its caller's), so it stands for them all.
    /// </summary>
    public IReadOnlyList<string> StatsPrograms => UsesUprobeMulti ? [UprobeEntry, .. KernelPrograms] : ProgramNames;

    /// <summary>The fd of one of <see cref="ProgramNames"/> (for /proc/self/fdinfo statistics); negative when it is not loaded.</summary>
    public int ProgramFd(string name) => _object.Program(name).Fd;
    public RingBufferReader Reader => _reader;
    /// <summary>Uprobes attached: offsets × processes (a multi-uprobe link holds many).</summary>
    public int AttachedProbes { get { lock (_linksLock) return _links.Sum(l => l.Probes); } }

    /// <summary>The BPF object compiled into this assembly by `make`.</summary>
    public static byte[] EmbeddedObject(string name)
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("bpf/" + name)
            ?? throw new TraceException($"BPF object {name} is not embedded in this build (run `make`)");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// Stores a binary's offsets in a free `configs` slot and returns the slot,
    /// which the binary's probes carry as their bpf_cookie. One slot per
    /// executable, however many processes run it; at most <see cref="MaxBinaries"/>
    /// at a time, and a slot is free again once <see cref="ReleaseBinary"/> gave it back.
    /// </summary>
    public int RegisterBinary(GoTargetConfig config)
    {
        int index;
        lock (_freeConfigs)
        {
            if (_freeConfigs.Count > 0) index = _freeConfigs.Pop();
            else if (_nextConfig < MaxBinaries) index = _nextConfig++;
            else throw new TraceException($"too many distinct binaries traced at once (at most {MaxBinaries})") { Reason = "too_many_binaries" };
        }
        config.Valid = 1;
        _configs.Update((uint)index, config);
        return index;
    }

    /// <summary>Whether a slot is free for <see cref="RegisterBinary"/>.</summary>
    public bool HasFreeSlot { get { lock (_freeConfigs) return _freeConfigs.Count > 0 || _nextConfig < MaxBinaries; } }

    /// <summary>
    /// Gives a binary's slot back, once its probes are detached (a probe still
    /// attached would read the next binary's offsets). Its processes are gone, and
    /// with them (<see cref="ForgetProcess"/>) what they had in flight.
    /// </summary>
    public void ReleaseBinary(int index)
    {
        if ((uint)index >= MaxBinaries) throw new ArgumentOutOfRangeException(nameof(index));
        _configs.Update((uint)index, default(GoTargetConfig));
        lock (_freeConfigs) _freeConfigs.Push(index);
    }

    /// <summary>
    /// Stores a binary's offsets and attaches its plan, for <paramref name="pids"/>
    /// (each via /proc/PID/exe) or, when empty, every process of <paramref name="path"/>.
    /// All or nothing: on failure, what was attached for this binary is detached.
    /// </summary>
    public IReadOnlyList<BpfLink> Attach(ProbePlan plan, GoTargetConfig config, string path, IReadOnlyList<int> pids, out int configIndex)
    {
        configIndex = RegisterBinary(config);
        return Attach(plan, configIndex, path, pids);
    }

    /// <summary>Attaches a plan for a binary registered with <see cref="RegisterBinary"/>; all or nothing.</summary>
    public IReadOnlyList<BpfLink> Attach(ProbePlan plan, int configIndex, string path, IReadOnlyList<int> pids)
    {
        var made = new List<BpfLink>();
        try
        {
            var targets = pids.Count == 0 ? new[] { (-1, path) } : pids.Select(p => (p, $"/proc/{p}/exe")).ToArray();
            foreach (var (pid, file) in targets)
            {
                if (!UsesUprobeMulti)
                {
                    foreach (var site in plan.Sites)
                        made.Add(_object.Program(site.Program).AttachUprobe(pid, file, (ulong)site.FileOffset, (ulong)configIndex));
                    continue;
                }
                // One link for the file (or the process: 0 is all of them), every probe at its
                // offset through sonde_uprobe, with its program's index in the cookie.
                ulong[] offsets = [.. plan.Sites.Select(s => (ulong)s.FileOffset)];
                ulong[] cookies = [.. plan.Sites.Select(s => ((ulong)(uint)Array.IndexOf(UprobePrograms, s.Program) << 32) | (uint)configIndex)];
                made.Add(_object.Program(UprobeEntry).AttachUprobeMulti(pid < 0 ? 0 : pid, file, offsets, cookies));
            }
        }
        catch (Exception e)
        {
            foreach (var l in made) l.Dispose();
            if (e is BpfException be)
                throw new TraceException($"attaching uprobes to {path} failed: {be.Message}", be);
            throw;
        }
        lock (_linksLock) _links.AddRange(made);
        return made;
    }

    /// <summary>Traces (or stops tracing) one process of a binary registered with FilterTgids.</summary>
    public void SetTraced(int tgid, bool traced)
    {
        var map = _object.Map("tgids");
        if (traced) map.Update((uint)tgid, 1u);
        else map.TryDelete((uint)tgid);
    }

    /// <summary>Detaches some probes (a process that exited), leaving the rest attached.</summary>
    public void Detach(IReadOnlyList<BpfLink> links)
    {
        lock (_linksLock)
            foreach (var l in links) _links.Remove(l);
        DisposeConcurrently(links);
    }

    /// <summary>
    /// Each uprobe link's close waits for an RCU grace period in the kernel
    /// (~110 ms each measured on 6.18); closing them concurrently lets the
    /// waits overlap.
    /// </summary>
    private static void DisposeConcurrently(IReadOnlyList<BpfLink> links)
    {
        if (links.Count <= 1) { foreach (var l in links) l.Dispose(); return; }
        Parallel.ForEach(links, new ParallelOptions { MaxDegreeOfParallelism = 32 }, l => l.Dispose());
    }

    private bool _kernelAttached;

    /// <summary>Attaches the breakdown's scheduler and syscall tracepoints (idempotent).</summary>
    public void AttachKernelEvents()
    {
        if (_kernelAttached) return;
        if (!Breakdown) throw new InvalidOperationException("internal: the breakdown's programs are not loaded");
        var made = new List<BpfLink>();
        try
        {
            foreach (var p in KernelPrograms) made.Add(_object.Program(p).Attach());
        }
        catch (BpfException e)
        {
            foreach (var l in made) l.Dispose();
            throw new TraceException($"the breakdown's kernel tracepoints could not be attached (use --breakdown off): {e.Message}", e);
        }
        lock (_linksLock) _links.AddRange(made);
        _kernelAttached = true;
    }

    /// <summary>Detaches every probe; requests already in the ring buffer can still be read.</summary>
    public void Detach()
    {
        List<BpfLink> all;
        lock (_linksLock)
        {
            all = _links.ToList();
            _links.Clear();
            _kernelAttached = false;
        }
        DisposeConcurrently(all);
    }

    /// <summary>Indices into the `stats` array: bpf/http.h enum sonde_stat (checked against the object's BTF).</summary>
    internal enum Stat : uint
    {
        StartHits, EndHits, RouteHits, Events, Drops, EndUnmatched, StartNoConfig, RuntimeHits, SyscallsLost, GrpcStatusHits,
        InflightFull, Abandoned, StateFull, RuntimeRequestHits, PeersLost, ClientHits, CallsLost, DialsUnmatched,
    }

    private ulong Sum(Stat s) => _stats.SumPerCpu((uint)s);

    public TracerStats ReadStats() => new(
        Sum(Stat.StartHits), Sum(Stat.EndHits), Sum(Stat.RouteHits), Sum(Stat.Events),
        Sum(Stat.Drops), Sum(Stat.EndUnmatched), Sum(Stat.StartNoConfig))
    {
        RuntimeHits = Sum(Stat.RuntimeHits),
        SyscallsLost = Sum(Stat.SyscallsLost),
        GrpcStatusHits = Sum(Stat.GrpcStatusHits),
        InflightFull = Sum(Stat.InflightFull),
        Abandoned = Sum(Stat.Abandoned),
        StateFull = Sum(Stat.StateFull),
        RuntimeRequestHits = Sum(Stat.RuntimeRequestHits),
        PeersLost = Sum(Stat.PeersLost),
        ClientHits = Sum(Stat.ClientHits),
        CallsLost = Sum(Stat.CallsLost),
        DialsUnmatched = Sum(Stat.DialsUnmatched),
        ExitedInFlight = (ulong)Interlocked.Read(ref _exitedInFlight),
    };

    /// <summary>
    /// Removes what a process that exited left in flight (requests its end never
    /// reached: it exited, or was killed, while serving them), counts them
    /// (<see cref="TracerStats.ExitedInFlight"/>) and returns how many. Call it once
    /// the ring buffer holds nothing more of the process. Only requests begun before
    /// <paramref name="goneNs"/> (CLOCK_MONOTONIC) are its: a later process given the
    /// same pid keeps its own.
    /// </summary>
    public int ForgetProcess(int nsPid, ulong goneNs)
    {
        int removed = 0;
        foreach (var key in _inflight.Keys<InflightKey>())
            if (_inflight.TryLookupHead(key, out InflightHead head) && head.NsTgid == (uint)nsPid && head.StartNs < goneNs
                && _inflight.TryDelete(key))
                removed++;
        Interlocked.Add(ref _exitedInFlight, removed);
        return removed;
    }

    /// <summary>
    /// Entries in one of the BPF object's hash maps now, for tests and checks: inflight
    /// (requests in flight), threads, stws, tgids.
    /// </summary>
    public int MapEntries(string map) => map switch
    {
        "inflight" => _inflight.Keys<InflightKey>().Count,
        "threads" or "stws" or "tgids" => _object.Map(map).Keys<uint>().Count,
        _ => throw new ArgumentException($"{map} is not a hash map of Sonde's", nameof(map)),
    };

    /// <summary>
    /// Reads requests until <paramref name="stop"/> is cancelled, then detaches,
    /// drains what is already in the ring buffer and returns. Runs the sink on
    /// the calling context; nothing is allocated per request.
    /// </summary>
    public async Task RunAsync(IRequestSink sink, CancellationToken stop)
    {
        using (stop.Register(static s => ((RingBufferReader)s!).CancelPendingRead(), _reader))
        // Wakes an idle consumer so the sink can flush what it buffered.
        using (new Timer(static s => ((RingBufferReader)s!).CancelPendingRead(), _reader, IdleTick, IdleTick))
        {
            while (!stop.IsCancellationRequested)
            {
                var result = await _reader.ReadAsync().ConfigureAwait(false);
                Consume(result, sink);
                sink.OnBatchEnd();
                if (result.IsCompleted) return;
            }
        }
        Detach();
        // Drain what is already in the ring. A canceled result (the stop or the
        // idle tick) carries nothing and ends nothing: only an empty ring does.
        while (_reader.TryRead(out var rest))
        {
            if (rest.IsCanceled) { _reader.AdvanceTo(rest.Buffer.Start); continue; }
            if (rest.Buffer.IsEmpty) { _reader.AdvanceTo(rest.Buffer.Start); break; }
            Consume(rest, sink);
        }
        sink.OnBatchEnd();
    }

    private void Consume(System.IO.Pipelines.ReadResult result, IRequestSink sink)
    {
        if (result.IsCanceled || result.Buffer.IsEmpty)
        {
            _reader.AdvanceTo(result.Buffer.Start);
            return;
        }
        var records = new RingBufferRecords(result.Buffer.FirstSpan);
        while (records.MoveNext())
            sink.OnRequest(HttpEvent.View(records.Current));
        _reader.AdvanceTo(result.Buffer.GetPosition(records.Consumed));
    }

    public void Dispose()
    {
        Detach();
        _reader.Dispose();
        _object.Dispose();
    }
}
