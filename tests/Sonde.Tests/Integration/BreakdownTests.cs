using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Integration;

/// <summary>
/// Where the time went, per request, on a real Go server (tests/goservers/breakdown)
/// whose handlers each spend their time on one known cause and measure it themselves.
/// Every record's categories must sum to its duration within 1%. Each request is held
/// against two truths of the same run, neither of them Sonde's:
/// <list type="bullet">
/// <item>the handler's own clocks: the wall time of its wait; for CPU work and I/O, locked
/// to its thread, the thread's CPU clock and the wall time around its write and fsync calls;</item>
/// <item>the kernel's record of the handler's thread, from a bpftrace script
/// (<see cref="InterferenceTrace"/>): when it was switched out, woken and switched in,
/// its syscalls, and what the hypervisor stole from its CPU while it ran.</item>
/// </list>
/// Tolerance: max(10% of the truth, 150 µs) (<see cref="Tol"/>); at most 2% of the
/// requests may fall outside each check (issue #13's bound), and every one that does
/// is shown. Each check's median error is printed, for the README's figures.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class BreakdownTests(ITestOutputHelper output)
{
    private const int PerKind = 8;
    /// <summary>Requests of each kind held against the truth: enough that 2% is two.</summary>
    private const int Measured = 100;
    // x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
    private const int NrWrite = 1, NrFsync = 74, NrFutex = 202;

    private static long Tol(long truth) => Math.Max(truth / 10, 150_000);

    private sealed record Rec(string Path, int Tid, long Goid, long StartNs, long DurationNs, Dictionary<string, long> Breakdown, Dictionary<string, (long Count, long Ns)> Syscalls)
    {
        public double Share(string category) => (double)Breakdown[category] / DurationNs;
        public long EndNs => StartNs + DurationNs;
    }

    /// <summary>A handler's answer about itself (tests/goservers/breakdown).</summary>
    private sealed record Truth(string Url, JsonElement Body)
    {
        public long Start => Body.GetProperty("start_ns").GetInt64();
        public long End => Body.GetProperty("end_ns").GetInt64();
        public long Goid => Body.GetProperty("goid").GetInt64();
        public long Get(string name) => Body.GetProperty(name).GetInt64();
    }

    private sealed record Run(List<Rec> Recs, List<Truth> Truths, long StolenNs, InterferenceTrace Kernel)
    {
        public IEnumerable<Truth> Of(string path) => Truths.Where(t => t.Url.StartsWith(path + "?", StringComparison.Ordinal));

        /// <summary>The record whose window holds the handler's, on the same goroutine.</summary>
        public Rec RecordOf(Truth t) => Assert.Single(Recs, r => r.Goid == t.Goid && r.StartNs <= t.Start && t.End <= r.EndNs);
    }

    /// <summary>
    /// Steal time of all CPUs so far, from /proc/stat's aggregate line (the 8th
    /// number, in USER_HZ ticks: 100 a second, fs/proc/stat.c).
    /// </summary>
    private static long ProcStatStealNs() =>
        long.Parse(File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[8], CultureInfo.InvariantCulture) * 10_000_000;

    /// <summary>
    /// Traces <paramref name="server"/> while <paramref name="concurrency"/> clients send
    /// <paramref name="urls"/>, with the kernel's record of the server's threads taken meanwhile.
    /// </summary>
    private async Task<Run> Trace(string server, IReadOnlyList<string> urls, int? cpu = null, Func<Task>? whileTracing = null, int concurrency = 1, params string[] serverArgs)
    {
        string data = Path.Combine(Repo.Root, "out", "fsync-data");   // a real disk: /tmp may be tmpfs
        Directory.CreateDirectory(data);
        using var srv = GoServer.Start(server, cpu: cpu, extraArgs: ["-data", data, .. serverArgs]);
        string json = Path.Combine(Path.GetTempPath(), $"sonde-breakdown-{srv.Port}.jsonl");
        using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(CultureInfo.InvariantCulture), "--json", json);
        sonde.WaitAttached();
        var bodies = new JsonElement[urls.Count];
        long stolen;
        // Its record outlives the bpftrace process: Dispose only ends that.
        using var kernel = InterferenceTrace.Start(srv.Pid, detail: true);
        {
            using (var client = new HttpClient { BaseAddress = new Uri(srv.BaseUrl), Timeout = TimeSpan.FromSeconds(30) })
            {
                if (whileTracing is not null) await whileTracing();
                stolen = ProcStatStealNs();
                int next = -1;
                await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
                {
                    for (int i; (i = Interlocked.Increment(ref next)) < urls.Count;)
                    {
                        using var resp = (await client.GetAsync(urls[i])).EnsureSuccessStatusCode();
                        string body = await resp.Content.ReadAsStringAsync();
                        bodies[i] = body.StartsWith('{') ? JsonDocument.Parse(body).RootElement : default;
                    }
                })));
                stolen = ProcStatStealNs() - stolen;
            }
            kernel.Stop();
        }
        await Task.Delay(200);
        Assert.Equal(0, sonde.Interrupt());
        var recs = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement).Select(r => new Rec(
            r.GetProperty("path").GetString()!, r.GetProperty("tid").GetInt32(), r.GetProperty("goid").GetInt64(),
            r.GetProperty("start_ns").GetInt64(), r.GetProperty("duration_ns").GetInt64(),
            r.GetProperty("breakdown_ns").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()),
            r.GetProperty("syscalls").EnumerateObject().ToDictionary(p => p.Name, p => (p.Value.GetProperty("count").GetInt64(), p.Value.GetProperty("ns").GetInt64()))))
            .ToList();
        File.Delete(json);
        foreach (var r in recs)
        {
            Assert.Equal(["on_cpu", "runnable", "net_io", "syscall", "lock", "chan", "sleep", "gc", "other", "stolen"], r.Breakdown.Keys);
            long sum = r.Breakdown.Values.Sum();
            Assert.True(Math.Abs(sum - r.DurationNs) <= r.DurationNs / 100, $"{r.Path}: categories sum to {sum}, duration {r.DurationNs}");
        }
        Assert.Equal(urls.Count, recs.Count);
        return new Run(recs, [.. urls.Zip(bodies, (u, b) => new Truth(u, b))], stolen, kernel);
    }

    private static List<string> Urls(params (string Url, int N)[] kinds) => [.. kinds.SelectMany(k => Enumerable.Repeat(k.Url, k.N))];

    [RootTheory]
    [InlineData("breakdown")]
    [InlineData("breakdown-stripped")]
    [InlineData("go1.24/breakdown-stripped")]
    [InlineData("go1.27/breakdown")]
    [InlineData("go1.27/breakdown-stripped")]
    public async Task Each_cause_lands_in_its_category(string server)
    {
        var run = await Trace(server, Urls(("/sleep?ms=5", Measured), ("/mutex?ms=5", Measured), ("/chan?ms=5", Measured), ("/peer?ms=5", Measured),
            ("/fsync?n=16&kb=256&direct=1", Measured), ("/busy?ms=4", Measured), ("/getppid?n=37", PerKind), ("/gc?mb=64", PerKind)));
        var checks = new Checks(output);
        CheckWaits(run, "/sleep", "sleep", checks);
        CheckWaits(run, "/mutex", "lock", checks);
        CheckWaits(run, "/chan", "chan", checks);
        CheckWaits(run, "/peer", "net_io", checks);
        CheckAgainstTheHandler(run, "/fsync", writes: 16, checks);
        CheckAgainstTheHandler(run, "/busy", writes: 0, checks);
        CheckStolen(run, checks);
        checks.Assert();
        Assert.All(run.Recs.Where(r => r.Path == "/getppid"), r => Assert.Equal(37, r.Syscalls["getppid"].Count));
        Assert.All(run.Recs.Where(r => r.Path == "/gc"), r => Assert.True(r.Breakdown["gc"] > 0, "a request that forced a GC overlapped a stop-the-world"));
    }

    /// <summary>
    /// A wait's category against the handler's wall time around the wait. That wall time
    /// ends when the goroutine runs again, so it also holds the wait for a CPU after the
    /// wake-up, which Sonde calls runnable: the category must not exceed the wait (for the
    /// peer: from the dial, whose connect waits on the network too, to the answer), and with
    /// the request's runnable time it must cover it (for the peer: the wait for the answer).
    /// </summary>
    private static void CheckWaits(Run run, string path, string category, Checks checks)
    {
        foreach (var t in run.Of(path))
        {
            var r = run.RecordOf(t);
            long wait = t.Get("wait_ns"), least = t.Get("min_wait_ns"), cat = r.Breakdown[category];
            checks.Error($"{path} {category} - wait", cat - least);
            checks.Within($"{path} {category} at most the wait", cat <= wait + Tol(wait), $"{category} {cat} ns, the handler waited {wait} ns");
            checks.Within($"{path} {category} and runnable cover the wait", cat + r.Breakdown["runnable"] >= least - Tol(least),
                $"{category} {cat} ns + runnable {r.Breakdown["runnable"]} ns, the handler waited {least} ns");
        }
    }

    /// <summary>
    /// The /fsync and /busy handlers, locked to their thread, measure their wall time and
    /// thread CPU time, and both summed over their write and fsync calls.
    /// <list type="bullet">
    /// <item>on_cpu at least the thread's CPU time, and at most that plus the part of the request outside the handler;</item>
    /// <item>runnable + syscall at most the handler's time off CPU plus outside;</item>
    /// <item>the kernel's time in write and fsync (<c>syscalls</c>) at most the wall time around them, and exactly
    /// <paramref name="writes"/> of each.</item>
    /// </list>
    /// And against the kernel's record of the handler's thread over the request's window
    /// (where the request stayed on that thread, as a locked handler does):
    /// <list type="bullet">
    /// <item>syscall: the time it slept in syscalls other than futex, until woken;</item>
    /// <item>runnable: the time from its wake-ups (or preemptions) to running again, and
    /// the time it slept in the runtime's futex: without a P after a syscall whose P
    /// sysmon took away, or parked as a locked thread, the goroutine waits to run;</item>
    /// <item>syscalls' write and fsync time: the kernel's sys_enter to sys_exit;</item>
    /// <item>no futex among the request's syscalls, though the thread made them.</item>
    /// </list>
    /// No fixed share is right: on a VM an O_DIRECT write costs real kernel CPU (a quarter
    /// to a third of the request), and a busy loop on a shared 2-CPU machine waits for the
    /// CPU as long as the machine makes it wait.
    /// </summary>
    private static void CheckAgainstTheHandler(Run run, string path, int writes, Checks checks)
    {
        int onOtherThreads = 0, n = 0;
        foreach (var t in run.Of(path))
        {
            n++;
            var r = run.RecordOf(t);
            long cpu = t.Get("cpu_ns"), off = t.End - t.Start - cpu, ioWall = t.Get("io_wall_ns"), unsure = t.Get("unsure_ns");
            long outside = r.DurationNs - (t.End - t.Start);
            long onCpu = r.Breakdown["on_cpu"], sys = r.Breakdown["syscall"], runnable = r.Breakdown["runnable"];
            string p = path;
            // The steal clock moves in lumps, so the steal of a stint on a CPU that straddles
            // the request's start or end may lie on either side of it (the kernel's record
            // bounds it, InterferenceTrace.StolenBoundsNs); Sonde's split of that much between
            // on_cpu and stolen is not knowable, and stolen is checked against those bounds.
            var (stolenLeast, stolenMost) = run.Kernel.StolenBoundsNs(r.Tid, r.StartNs, r.EndNs);
            long band = stolenMost - stolenLeast;
            checks.Error($"{p} on_cpu - thread CPU clock", onCpu - cpu);
            checks.Within($"{p} on_cpu at least the thread's CPU clock", onCpu >= cpu - Tol(cpu) - band,
                $"on_cpu {onCpu} ns, the thread's CPU clock {cpu} ns (steal on either side of the request's ends: {band} ns; stolen {r.Breakdown["stolen"]} ns, runnable {runnable} ns, kernel steal {stolenLeast}..{stolenMost} ns)");
            checks.Within($"{p} on_cpu at most the thread's CPU clock + outside", onCpu <= cpu + unsure + outside + Tol(cpu),
                $"on_cpu {onCpu} ns, the thread's CPU clock {cpu} ns (+ {unsure} ns between its paired clock reads, + {outside} ns outside)");
            checks.Within($"{p} runnable + syscall at most the time off CPU + outside", runnable + sys <= off + outside + Tol(off),
                $"runnable {runnable} + syscall {sys} ns, the handler was off CPU for {off} ns (+ {outside} ns outside)");
            if (writes > 0)
            {
                long kernelIo = r.Syscalls["write"].Ns + r.Syscalls["fsync"].Ns;
                checks.Within($"{p} write+fsync time at most the wall time around them", kernelIo <= ioWall + Tol(ioWall), $"write+fsync {kernelIo} ns in the kernel, {ioWall} ns around them");
                Assert.Equal(writes, r.Syscalls["write"].Count);
                Assert.Equal(writes, r.Syscalls["fsync"].Count);
            }

            // The kernel's record of the handler's thread over the handler's window, where the
            // goroutine is locked to it. Sonde's figures are the whole request's: at least the
            // record's, at most that plus the part outside the window. And each context switch
            // is seen by Sonde's probes and the record's at different points of it: both read
            // the clock there, microseconds apart (~10 us measured: Sonde's run first), which
            // moves that much between asleep and waiting at each switch.
            int tid = (int)t.Get("tid");
            if (r.Tid != tid) onOtherThreads++;
            var k = KernelTruth.Of(run.Kernel, tid, t.Start, t.End);
            // The sleeps whose wake-up the record missed can be either.
            long skew = 15_000L * k.Switches + k.Unseen;
            // The errors, for the figures: over the whole request where it ran on the one thread.
            if (r.Tid == tid && KernelTruth.Of(run.Kernel, tid, r.StartNs, r.EndNs) is var w)
            {
                checks.Error($"{p} on_cpu - kernel", onCpu - w.Charged);
                checks.Error($"{p} syscall - kernel", sys - w.SleptInSyscalls);
                checks.Error($"{p} runnable - kernel", runnable - w.WaitedToRun);
            }
            // What the scheduler charged within the window, bounded (a stint straddling its ends
            // holds its charge unevenly when the hypervisor stole part of it).
            checks.Within($"{p} on_cpu against the kernel", onCpu >= k.ChargedLeast - Tol(k.ChargedLeast) - skew - band && onCpu <= k.ChargedMost + outside + Tol(k.ChargedMost) + skew,
                $"on_cpu {onCpu} ns, the scheduler charged the thread {k.ChargedLeast}..{k.ChargedMost} ns (prorated {k.Charged} ns; + {outside} ns outside, {k.Switches} switches, {band} ns steal either side)");
            checks.Within($"{p} syscall against the kernel", sys >= k.SleptInSyscalls - Tol(k.SleptInSyscalls) - skew && sys <= k.SleptInSyscalls + outside + Tol(k.SleptInSyscalls) + skew,
                $"syscall {sys} ns, the thread slept {k.SleptInSyscalls} ns in syscalls other than futex, {k.InFutex} ns in futex, {k.SleptElsewhere} ns outside syscalls (+ {outside} ns outside, {k.Switches} switches, {k.Unseen} ns asleep with no wake-up seen); its syscalls: {string.Join(",", r.Syscalls.Select(x => $"{x.Key}={x.Value.Ns}"))}");
            // Bounded like the charge: the uncharged time of a stint that straddles the window's ends may lie outside it.
            checks.Within($"{p} runnable against the kernel", runnable >= k.WaitedLeast - Tol(k.WaitedLeast) - skew && runnable <= k.WaitedMost + outside + Tol(k.WaitedMost) + skew,
                $"runnable {runnable} ns, the thread waited {k.WaitedLeast}..{k.WaitedMost} ns to run (prorated {k.WaitedToRun} ns; {k.InFutex} ns of it asleep in the runtime's futex, {k.Uncharged} ns of it on a CPU charged to no one; + {outside} ns outside, {k.Switches} switches)");
            checks.Within($"{p} no futex among the syscalls", !r.Syscalls.ContainsKey("futex"), $"futex in the request's syscalls ({k.FutexCalls} runtime futex calls on its thread)");
            checks.Count($"{p} requests whose thread slept in the runtime's futex", k.InFutex > 0);
            checks.Sum($"{p} ns the thread slept in the runtime's futex", k.InFutex);
            checks.Sum($"{p} ns on a CPU charged to no one (context switches)", k.Uncharged);
            if (writes > 0)
            {
                long kernelIo = r.Syscalls["write"].Ns + r.Syscalls["fsync"].Ns;
                checks.Error($"{p} write+fsync time - kernel", kernelIo - k.WriteAndFsync);
                checks.Within($"{p} write+fsync time against the kernel", Math.Abs(kernelIo - k.WriteAndFsync) <= Tol(k.WriteAndFsync),
                    $"write+fsync {kernelIo} ns, the kernel's sys_enter to sys_exit {k.WriteAndFsync} ns");
            }
        }
        if (onOtherThreads > 0) checks.Note($"{path}: {onOtherThreads} of {n} requests started on another thread than their handler's");
    }

    /// <summary>
    /// stolen, per request of the locked handlers, against the steal the kernel's record
    /// gives for the handler's thread in the request's window (tolerance max(10%, 100 µs):
    /// Sonde reads the steal clock at the request's start and end as well, where it may be
    /// a tick old), and in all against /proc/stat's steal for every CPU over the run (plus
    /// that counter's granularity, a tick per CPU).
    /// </summary>
    private void CheckStolen(Run run, Checks checks)
    {
        long total = run.Recs.Sum(r => r.Breakdown["stolen"]);
        long allowed = run.StolenNs + Environment.ProcessorCount * 10_000_000L;
        output.WriteLine($"stolen: {total / 1e6:0.000} ms in all requests; /proc/stat: {run.StolenNs / 1e6:0} ms stolen from all CPUs during the run");
        Assert.True(total <= allowed, $"stolen {total} ns in all, more than the hypervisor stole from all CPUs ({run.StolenNs} ns, + {allowed - run.StolenNs} ns granularity)");
        foreach (var t in run.Truths.Where(t => t.Body.ValueKind == JsonValueKind.Object && t.Body.TryGetProperty("tid", out _)))
        {
            var r = run.RecordOf(t);
            int tid = (int)t.Get("tid");
            if (r.Tid != tid) continue;
            long truth = run.Kernel.StolenNs(tid, r.StartNs, r.EndNs), stolen = r.Breakdown["stolen"];
            var (least, most) = run.Kernel.StolenBoundsNs(tid, r.StartNs, r.EndNs);
            checks.Error("stolen - kernel", stolen - truth);
            checks.Count("requests the hypervisor stole from", truth > 0);
            // Within max(10%, 100 µs) of what the kernel's record allows: the steal of the
            // thread's time on CPU inside the request, and at most that of its stints that
            // overlap the request (their steal may lie before its start or after its end).
            checks.Within("stolen against the kernel", stolen >= least - Math.Max(least / 10, 100_000) && stolen <= most + Math.Max(most / 10, 100_000),
                $"stolen {stolen} ns, the kernel's steal clock {least}..{most} ns (prorated {truth} ns)");
        }
    }

    /// <summary>What the kernel's record says of one thread within a request's window.</summary>
    private sealed record KernelTruth(long Unseen, long Charged, long ChargedLeast, long ChargedMost, long SleptElsewhere, long SleptInSyscalls, long WaitedToRun,
        long WaitedLeast, long WaitedMost, long InFutex, long Uncharged, long WriteAndFsync, int FutexCalls, int Switches)
    {
        public static KernelTruth Of(InterferenceTrace k, int tid, long from, long to)
        {
            var calls = k.SyscallsOf(tid).Where(s => s.Exit > from && s.Enter < to).ToList();
            long slept = 0, waited = 0, futex = 0, elsewhere = 0, unknown = 0;
            int switches = 0;
            foreach (var o in k.OffCpuOf(tid))
            {
                if (o.In <= from || o.Out >= to) continue;
                switches++;
                long outAt = Math.Max(o.Out, from), inAt = Math.Min(o.In, to);
                // Asleep until woken, then waiting for a CPU; preempted (never woken): waiting throughout.
                // Asleep with its wake-up unseen: when it woke is not known, so neither is the split.
                if (o.Slept && o.Woken == 0) unknown += inAt - outAt;
                long wokenAt = o.Woken == 0 ? (o.Slept ? inAt : outAt) : Math.Clamp(o.Woken, outAt, inAt);
                waited += inAt - wokenAt;
                long asleep = wokenAt - outAt;
                if (asleep == 0) continue;
                var inCall = calls.FirstOrDefault(s => s.Enter <= o.Out && o.Out < s.Exit);
                if (inCall.Nr == NrFutex && inCall.Exit != 0) { futex += asleep; waited += asleep; }
                else if (inCall.Exit != 0) slept += asleep;
                else elsewhere += asleep;
            }
            // On a CPU but charged to no one's clock: the scheduler's own time, runnable.
            long uncharged = k.UnchargedNs(tid, from, to);
            long io = calls.Where(s => s.Nr is NrWrite or NrFsync).Sum(s => Math.Min(s.Exit, to) - Math.Max(s.Enter, from));
            var (least, most) = k.ChargedBoundsNs(tid, from, to);
            var (unchargedLeast, unchargedMost) = k.UnchargedBoundsNs(tid, from, to);
            return new KernelTruth(unknown, k.ChargedNs(tid, from, to), least, most, elsewhere, slept, waited + uncharged,
                waited + unchargedLeast, waited + unchargedMost, futex, uncharged, io, calls.Count(s => s.Nr == NrFutex), switches);
        }
    }

    /// <summary>
    /// Each named check's outcomes over a run: at most 2% of its requests outside, every one
    /// of them printed; signed errors, whose median and 90th percentile are printed.
    /// </summary>
    private sealed class Checks(ITestOutputHelper output)
    {
        private readonly Dictionary<string, (int N, List<string> Out)> _within = [];
        private readonly Dictionary<string, List<long>> _errors = [];
        private readonly Dictionary<string, (int N, int Yes)> _counts = [];
        private readonly Dictionary<string, long> _sums = [];

        public void Within(string check, bool ok, string why)
        {
            var (n, outliers) = _within.GetValueOrDefault(check, (0, []));
            if (!ok) outliers.Add(why);
            _within[check] = (n + 1, outliers);
        }

        public void Error(string name, long error)
        {
            if (!_errors.TryGetValue(name, out var l)) _errors[name] = l = [];
            l.Add(error);
        }

        public void Count(string name, bool yes)
        {
            var (n, y) = _counts.GetValueOrDefault(name);
            _counts[name] = (n + 1, y + (yes ? 1 : 0));
        }

        private readonly List<string> _notes = [];

        public void Note(string note) => _notes.Add(note);

        public void Sum(string name, long v) => _sums[name] = _sums.GetValueOrDefault(name) + v;

        public long SumOf(string name) => _sums.GetValueOrDefault(name);

        public int CountOf(string name) => _counts.GetValueOrDefault(name).Yes;

        public void Assert()
        {
            foreach (var (name, l) in _errors)
            {
                var abs = l.Select(Math.Abs).Order().ToList();
                var signed = l.Order().ToList();
                output.WriteLine($"{name}: median |error| {abs[abs.Count / 2] / 1e3:0} us, p90 |error| {abs[abs.Count * 9 / 10] / 1e3:0} us, median {signed[signed.Count / 2] / 1e3:0} us ({l.Count} requests)");
            }
            foreach (var (name, (n, y)) in _counts) output.WriteLine($"{name}: {y} of {n}");
            foreach (var (name, v) in _sums) output.WriteLine($"{name}: {v / 1e6:0.000} ms in all");
            foreach (var note in _notes) output.WriteLine(note);
            var failed = new List<string>();
            foreach (var (check, (n, outliers)) in _within)
            {
                output.WriteLine($"{check}: {n - outliers.Count} of {n} within tolerance" + (outliers.Count > 0 ? ":\n  " + string.Join("\n  ", outliers) : ""));
                if (outliers.Count > n / 50) failed.Add($"{check}: {outliers.Count} of {n} requests outside the tolerance, more than 2%: {outliers[0]}");
            }
            Xunit.Assert.True(failed.Count == 0, string.Join("\n", failed));
        }
    }

    /// <summary>
    /// With one P (GOMAXPROCS=1) and more handlers than it, a goroutine returning from
    /// write or fsync often finds that sysmon gave its P away while it was in the kernel
    /// (runtime/proc.go, retake): it waits for a P, its locked thread asleep in the
    /// runtime's futex. That wait is scheduling delay, runnable, not the request's
    /// syscall time. The premise is checked in the kernel's record: the handlers' threads
    /// did sleep in futex inside the requests.
    /// </summary>
    [RootTheory]
    [InlineData("breakdown")]
    [InlineData("go1.27/breakdown")]
    public async Task Waits_for_a_P_after_a_syscall_are_runnable(string server)
    {
        var urls = new List<string>();
        for (int i = 0; i < Measured; i++) { urls.Add("/fsync?n=8&kb=64&direct=1"); urls.Add("/busy?ms=2"); }
        // How often sysmon takes a P from a handler in fsync depends on how long the disk
        // takes (one run here saw 5 of 100, others 23 to 100): runs until Measured / 10
        // requests in all waited for a P, every run's records checked in full.
        const int MaxRuns = 3;
        int withFutex = 0, runs = 0;
        while (runs < MaxRuns && withFutex < Measured / 10)
        {
            runs++;
            var run = await Trace(server, urls, concurrency: 6, serverArgs: ["-procs", "1"]);
            var checks = new Checks(output);
            CheckAgainstTheHandler(run, "/fsync", writes: 8, checks);
            CheckAgainstTheHandler(run, "/busy", writes: 0, checks);
            checks.Assert();
            withFutex += checks.CountOf("/fsync requests whose thread slept in the runtime's futex");
        }
        Assert.True(withFutex >= Measured / 10, $"the premise: sysmon should have taken Ps from the fsync handlers, but only {withFutex} of {runs * Measured} requests in {runs} runs waited for one");
    }

    /// <summary>
    /// A busy handler alone on CPU 1, then sharing it with a CPU hog: in both, each
    /// request's on_cpu and runnable agree with the handler's own thread CPU clock and
    /// wall time, and with the kernel's record. Busy loops of 8 ms stay under Go's 10 ms
    /// preemption, so the goroutine (locked to its thread for the measurement) is never handed off.
    /// </summary>
    [RootFact]
    public async Task A_CPU_hog_on_the_same_CPU_shows_as_runnable()
    {
        var urls = Urls(("/busy?ms=4", Measured));
        var alone = await Trace("breakdown", urls, cpu: 1);
        var checks = new Checks(output);
        CheckAgainstTheHandler(alone, "/busy", writes: 0, checks);
        CheckStolen(alone, checks);
        checks.Assert();
        Process? hog = null;
        try
        {
            var withHog = await Trace("breakdown", urls, cpu: 1, whileTracing: () =>
            {
                var psi = new ProcessStartInfo("taskset");
                foreach (var a in new[] { "-c", "1", "sh", "-c", "while :; do :; done" }) psi.ArgumentList.Add(a);
                hog = Process.Start(psi)!;
                Thread.Sleep(200);
                Assert.False(hog.HasExited, "the CPU hog must keep running");
                return Task.CompletedTask;
            });
            double offShare = withHog.Truths.Average(t => 1 - (double)t.Get("cpu_ns") / (t.End - t.Start));
            output.WriteLine($"with the hog the handlers were off CPU {offShare:P1} of their time by their own clocks; sonde: runnable {withHog.Recs.Average(r => r.Share("runnable")):P1}");
            // The premise, by the handler's own clocks: sharing one CPU, it waited for it.
            Assert.True(offShare >= 0.25, $"the hog should have taken the CPU from the handler, but it was off CPU only {offShare:P1}");
            checks = new Checks(output);
            CheckAgainstTheHandler(withHog, "/busy", writes: 0, checks);
            CheckStolen(withHog, checks);
            checks.Assert();
        }
        finally
        {
            if (hog is not null) { try { hog.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } hog.Dispose(); }
        }
    }

    [RootFact]
    public async Task Breakdown_off_leaves_the_records_as_they_were()
    {
        using var srv = GoServer.Start("nethttp");
        string json = Path.Combine(Path.GetTempPath(), $"sonde-nobreakdown-{srv.Port}.jsonl");
        using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(CultureInfo.InvariantCulture), "--json", json, "--breakdown", "off");
        sonde.WaitAttached();
        // Loose loading: with the breakdown off its programs are not even loaded (nor verified).
        var loaded = Bpftool.ProgramNamesOf(sonde.Pid);
        Assert.Contains(loaded, n => "sonde_http_start".StartsWith(n, StringComparison.Ordinal));
        foreach (var p in Sonde.Tracing.HttpTracer.BreakdownPrograms)
            Assert.DoesNotContain(loaded, n => p.StartsWith(n, StringComparison.Ordinal) && n.Length >= Math.Min(p.Length, 15));
        await LoadClient.SendAsync(srv.BaseUrl, [("GET", "/hello"), ("GET", "/users/1")], 1);
        await Task.Delay(200);
        Assert.Equal(0, sonde.Interrupt());
        var recs = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        File.Delete(json);
        Assert.Equal(2, recs.Count);
        Assert.All(recs, r =>
        {
            Assert.False(r.TryGetProperty("breakdown_ns", out _));
            Assert.False(r.TryGetProperty("syscalls", out _));
        });
    }
}
