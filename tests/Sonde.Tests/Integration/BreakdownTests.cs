using System.Diagnostics;
using System.Text.Json;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Integration;

/// <summary>
/// Where the time went, per request, on a real Go server (tests/goservers/breakdown)
/// whose handlers each spend their time on one known cause. Every record's
/// categories must sum to its duration within 1%.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class BreakdownTests(ITestOutputHelper output)
{
    private const int PerKind = 8;
    /// <summary>Requests of each kind held against the handler's own measurement: enough that 2% is two.</summary>
    private const int Measured = 100;

    private sealed record Rec(string Path, long StartNs, long DurationNs, Dictionary<string, long> Breakdown, Dictionary<string, (long Count, long Ns)> Syscalls)
    {
        public double Share(string category) => (double)Breakdown[category] / DurationNs;
    }

    /// <summary>What the handlers answered, in the order of the requests, and the time the hypervisor stole from all CPUs meanwhile.</summary>
    private sealed record Answers(List<JsonElement> Bodies, long StolenNs);

    /// <summary>
    /// Steal time of all CPUs so far, from /proc/stat's aggregate line (the 8th
    /// number, in USER_HZ ticks: 100 a second, fs/proc/stat.c). A thread's CPU
    /// clock excludes what the hypervisor took from its vCPU; Sonde, seeing the
    /// thread switched in, counts it as on_cpu.
    /// </summary>
    private static long StolenNs() =>
        long.Parse(File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[8], System.Globalization.CultureInfo.InvariantCulture) * 10_000_000;

    private async Task<List<Rec>> Trace(string server, IEnumerable<string> urls, int? cpu = null, Func<Task>? whileTracing = null) =>
        (await TraceWithAnswers(server, urls, cpu, whileTracing)).Recs;

    private async Task<(List<Rec> Recs, Answers Answers)> TraceWithAnswers(string server, IEnumerable<string> urls, int? cpu = null, Func<Task>? whileTracing = null)
    {
        var answers = new List<JsonElement>();
        string data = Path.Combine(Repo.Root, "out", "fsync-data");   // a real disk: /tmp may be tmpfs
        Directory.CreateDirectory(data);
        using var srv = GoServer.Start(server, cpu: cpu, extraArgs: ["-data", data]);
        string json = Path.Combine(Path.GetTempPath(), $"sonde-breakdown-{srv.Port}.jsonl");
        using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(), "--json", json);
        sonde.WaitAttached();
        long stolen;
        using (var client = new HttpClient { BaseAddress = new Uri(srv.BaseUrl), Timeout = TimeSpan.FromSeconds(30) })
        {
            if (whileTracing is not null) await whileTracing();
            stolen = StolenNs();
            foreach (var u in urls)
            {
                using var resp = (await client.GetAsync(u)).EnsureSuccessStatusCode();
                string body = await resp.Content.ReadAsStringAsync();
                answers.Add(body.StartsWith('{') ? JsonDocument.Parse(body).RootElement : default);
            }
            stolen = StolenNs() - stolen;
        }
        await Task.Delay(200);
        Assert.Equal(0, sonde.Interrupt());
        var recs = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement).Select(r => new Rec(
            r.GetProperty("path").GetString()!, r.GetProperty("start_ns").GetInt64(), r.GetProperty("duration_ns").GetInt64(),
            r.GetProperty("breakdown_ns").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()),
            r.GetProperty("syscalls").EnumerateObject().ToDictionary(p => p.Name, p => (p.Value.GetProperty("count").GetInt64(), p.Value.GetProperty("ns").GetInt64()))))
            .ToList();
        File.Delete(json);
        foreach (var r in recs)
        {
            output.WriteLine($"{r.Path} {r.DurationNs / 1e6:0.00} ms: " + string.Join(" ", r.Breakdown.Where(b => b.Value > 0).Select(b => $"{b.Key}={100.0 * b.Value / r.DurationNs:0.0}%")));
            Assert.Equal(["on_cpu", "runnable", "net_io", "syscall", "lock", "chan", "sleep", "gc", "other", "stolen"], r.Breakdown.Keys);
            long sum = r.Breakdown.Values.Sum();
            Assert.True(Math.Abs(sum - r.DurationNs) <= r.DurationNs / 100, $"{r.Path}: categories sum to {sum}, duration {r.DurationNs}");
        }
        return (recs, new Answers(answers, stolen));
    }

    private static IEnumerable<string> Repeat(string url) => Enumerable.Repeat(url, PerKind);

    [RootTheory]
    [InlineData("breakdown")]
    [InlineData("breakdown-stripped")]
    [InlineData("go1.24/breakdown-stripped")]
    [InlineData("go1.27/breakdown")]
    [InlineData("go1.27/breakdown-stripped")]
    public async Task Each_cause_lands_in_its_category(string server)
    {
        var urls = Repeat("/sleep?ms=20").Concat(Repeat("/mutex?ms=20")).Concat(Repeat("/peer?ms=20"))
            .Concat(Enumerable.Repeat("/fsync?n=16&kb=256&direct=1", Measured)).Concat(Enumerable.Repeat("/busy?ms=8", Measured)).Concat(Repeat("/getppid?n=37")).Concat(Repeat("/gc?mb=64")).ToList();
        var (recs, answers) = await TraceWithAnswers(server, urls);
        Assert.Equal(5 * PerKind + 2 * Measured, recs.Count);
        IEnumerable<Rec> Of(string p) => recs.Where(r => r.Path == p).ToList() is { Count: PerKind } l ? l : throw new Xunit.Sdk.XunitException($"expected {PerKind} records of {p}");

        Assert.All(Of("/sleep"), r => Assert.True(r.Share("sleep") >= 0.90, $"sleep {r.Share("sleep"):P1}"));
        Assert.All(Of("/mutex"), r => Assert.True(r.Share("lock") >= 0.80, $"lock {r.Share("lock"):P1}"));
        Assert.All(Of("/peer"), r => Assert.True(r.Share("net_io") >= 0.80, $"net_io {r.Share("net_io"):P1}"));
        List<JsonElement> TruthOf(string p) => urls.Zip(answers.Bodies).Where(a => a.First.StartsWith(p + "?", StringComparison.Ordinal)).Select(a => a.Second).ToList();
        long stealLeft = StealAllowance(answers);
        AssertAgreesWithTheHandler(recs.Where(r => r.Path == "/fsync").ToList(), TruthOf("/fsync"), writes: 16, ref stealLeft);
        AssertAgreesWithTheHandler(recs.Where(r => r.Path == "/busy").ToList(), TruthOf("/busy"), writes: 0, ref stealLeft);
        Assert.All(Of("/getppid"), r => Assert.Equal(37, r.Syscalls["getppid"].Count));
        Assert.All(Of("/gc"), r => Assert.True(r.Breakdown["gc"] > 0, "a request that forced a GC overlapped a stop-the-world"));
    }

    /// <summary>
    /// How much on_cpu may exceed the handlers' thread CPU clocks in all, over a run:
    /// what the hypervisor stole from all CPUs meanwhile (/proc/stat), and one tick
    /// of that counter's granularity per CPU.
    /// </summary>
    private long StealAllowance(Answers a)
    {
        long allowance = a.StolenNs + Environment.ProcessorCount * 10_000_000L;
        output.WriteLine($"steal during the run: {a.StolenNs / 1e6:0} ms (/proc/stat); on_cpu may exceed the thread CPU clocks by {allowance / 1e6:0} ms in all");
        return allowance;
    }

    /// <summary>
    /// The /fsync and /busy handlers measure themselves (tests/goservers/breakdown),
    /// locked to their thread so that the thread's CPU clock is theirs: their wall
    /// time and thread CPU time, and both summed over their write and fsync calls.
    /// Each record is held against the answer whose measured window it contains;
    /// "outside" is the part of the request before and after that window (routing,
    /// openat, unlinkat, the response). Tolerance: max(10% of the truth, 150 µs).
    /// At most 2% of the requests may fall outside each of these:
    /// <list type="bullet">
    /// <item>on_cpu at least the handler's thread CPU time;</item>
    /// <item>runnable at most the handler's time off CPU (wall minus CPU) plus outside;</item>
    /// <item>syscall at most the time the write and fsync calls were off CPU plus outside;</item>
    /// <item>the kernel's time in write and fsync (<c>syscalls</c>) at most the
    /// handler's wall time around them.</item>
    /// </list>
    /// Every request makes exactly <paramref name="writes"/> writes and fsyncs.
    /// And on_cpu at most the thread CPU time plus outside, which is the same as
    /// syscall + runnable at least the time off CPU: beyond that only by time the
    /// hypervisor stole, since the thread's CPU clock leaves that out and Sonde does
    /// not (yet) tell it apart. What exceeds it is taken from <paramref name="stealLeft"/>,
    /// the run's measured steal, which must not run out.
    /// No fixed share is right here: on a VM an O_DIRECT write costs real kernel CPU
    /// (a quarter to a third of the request), and a busy loop on a shared 2-CPU
    /// machine waits for the CPU as long as the machine makes it wait.
    /// </summary>
    private void AssertAgreesWithTheHandler(List<Rec> recs, List<JsonElement> truth, int writes, ref long stealLeft)
    {
        Assert.Equal(truth.Count, recs.Count);
        static long Tol(long t) => Math.Max(t / 10, 150_000);
        var outliers = new List<(string Check, string Why)>();
        foreach (var t in truth)
        {
            long start = t.GetProperty("start_ns").GetInt64(), end = t.GetProperty("end_ns").GetInt64();
            long cpu = t.GetProperty("cpu_ns").GetInt64(), off = end - start - cpu;
            long ioWall = t.GetProperty("io_wall_ns").GetInt64(), ioOff = ioWall - t.GetProperty("io_cpu_ns").GetInt64();
            var r = Assert.Single(recs, r => r.StartNs <= start && end <= r.StartNs + r.DurationNs);
            long outside = r.DurationNs - (end - start);
            long onCpu = r.Breakdown["on_cpu"], sys = r.Breakdown["syscall"], runnable = r.Breakdown["runnable"];
            long excess = Math.Max(0, onCpu - (cpu + outside + Tol(cpu)));
            output.WriteLine($"{r.Path} truth: wall {(end - start) / 1e3:0}us cpu {cpu / 1e3:0}us io off-cpu {ioOff / 1e3:0}us; " +
                $"sonde: on_cpu {onCpu / 1e3:0}us syscall {sys / 1e3:0}us runnable {runnable / 1e3:0}us, outside {outside / 1e3:0}us" +
                (excess > 0 ? $"; on_cpu over the CPU clock by {excess / 1e3:0}us beyond tolerance (steal)" : ""));
            Outside(onCpu >= cpu - Tol(cpu), "on_cpu", $"on_cpu {onCpu} ns, but the thread's CPU clock says {cpu} ns");
            Outside(runnable <= off + outside + Tol(off), "runnable", $"runnable {runnable} ns, but the handler was off CPU for only {off} ns (+ {outside} ns outside)");
            Outside(sys <= ioOff + outside + Tol(ioOff), "syscall", $"syscall {sys} ns, but the I/O calls were off CPU for {ioOff} ns (+ {outside} ns outside)");
            stealLeft -= excess;
            Assert.True(stealLeft >= 0, $"on_cpu {onCpu} ns against the thread's CPU clock {cpu} ns (+ {outside} ns outside): more over it, in all, than the hypervisor stole");
            if (writes == 0) continue;
            long kernelIo = r.Syscalls["write"].Ns + r.Syscalls["fsync"].Ns;
            Outside(kernelIo <= ioWall + Tol(ioWall), "syscalls", $"write+fsync {kernelIo} ns in the kernel, {ioWall} ns around them");
            Assert.Equal(writes, r.Syscalls["write"].Count);
            Assert.Equal(writes, r.Syscalls["fsync"].Count);
        }
        // At most 2% of the requests outside each tolerance (issue #13's bound), every one of them shown.
        foreach (var check in outliers.GroupBy(o => o.Check))
        {
            output.WriteLine($"{recs[0].Path}: {check.Count()} of {truth.Count} requests outside the {check.Key} tolerance:\n  " + string.Join("\n  ", check.Select(o => o.Why)));
            Assert.True(check.Count() <= truth.Count / 50, $"{recs[0].Path}: {check.Count()} of {truth.Count} requests outside the {check.Key} tolerance, more than 2%: {check.First().Why}");
        }

        void Outside(bool within, string check, string why)
        {
            if (!within) outliers.Add((check, why));
        }
    }

    /// <summary>
    /// A busy handler alone on CPU 1, then sharing it with a CPU hog: in both, each
    /// request's on_cpu and runnable agree with the handler's own thread CPU clock and
    /// wall time. Busy loops of 8 ms stay under Go's 10 ms preemption, so the goroutine
    /// (locked to its thread for the measurement) is never handed off.
    /// </summary>
    [RootFact]
    public async Task A_CPU_hog_on_the_same_CPU_shows_as_runnable()
    {
        var urls = Enumerable.Repeat("/busy?ms=8", Measured).ToList();
        var (alone, aloneTruth) = await TraceWithAnswers("breakdown", urls, cpu: 1);
        long stealLeft = StealAllowance(aloneTruth);
        AssertAgreesWithTheHandler(alone, aloneTruth.Bodies, writes: 0, ref stealLeft);
        Process? hog = null;
        try
        {
            var (withHog, hogTruth) = await TraceWithAnswers("breakdown", urls, cpu: 1, whileTracing: () =>
            {
                var psi = new ProcessStartInfo("taskset");
                foreach (var a in new[] { "-c", "1", "sh", "-c", "while :; do :; done" }) psi.ArgumentList.Add(a);
                hog = Process.Start(psi)!;
                Thread.Sleep(200);
                Assert.False(hog.HasExited, "the CPU hog must keep running");
                return Task.CompletedTask;
            });
            var truth = hogTruth.Bodies;
            double offShare = truth.Average(t => 1 - (double)t.GetProperty("cpu_ns").GetInt64() / (t.GetProperty("end_ns").GetInt64() - t.GetProperty("start_ns").GetInt64()));
            output.WriteLine($"with the hog the handlers were off CPU {offShare:P1} of their time by their own clocks; sonde: runnable {withHog.Average(r => r.Share("runnable")):P1}");
            // The premise, by the handler's own clocks: sharing one CPU, it waited for it.
            Assert.True(offShare >= 0.25, $"the hog should have taken the CPU from the handler, but it was off CPU only {offShare:P1}");
            stealLeft = StealAllowance(hogTruth);
            AssertAgreesWithTheHandler(withHog, truth, writes: 0, ref stealLeft);
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
        using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(), "--json", json, "--breakdown", "off");
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
