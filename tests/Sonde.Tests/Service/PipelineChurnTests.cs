using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Sonde.Config;
using Sonde.Service;
using Sonde.Tests.Support;
using Sonde.Tracing;
using Xunit.Abstractions;

namespace Sonde.Tests.Service;

/// <summary>
/// `sonde run`'s pipeline following processes that start and stop under load:
/// every request of every process counted exactly, nothing left behind.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class PipelineChurnTests(ITestOutputHelper output)
{
    private static async Task Until(Func<bool> condition, string what, int ms = 3000)
    {
        var deadline = Environment.TickCount64 + ms;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline) throw new TimeoutException(what);
            await Task.Delay(5);
        }
    }

    private static int OpenFds() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>
    /// A <c>port</c> target whose server listens only a second after its exec (it
    /// reads its config first) is traced once it listens, with no reload: fresh
    /// processes are looked at again on a backoff schedule.
    /// </summary>
    [RootFact]
    public async Task A_port_target_that_listens_late_is_traced()
    {
        int port = FreePort.Next();
        var sink = new PerPidSink();
        var pipeline = new TracingPipeline(sink, NullLoggerFactory.Instance);
        var config = new SondeConfig { Targets = [new TargetSelector { Kind = TargetKind.Port, Port = port, Service = "late" }] };
        await pipeline.StartAsync(config, CancellationToken.None);
        try
        {
            using var srv = GoServer.Start("nethttp-stripped", port: port, extraArgs: ["-delay", "1s"]);
            await Until(() => pipeline.TracedPids.Contains(srv.Pid), $"pid {srv.Pid} traced within 3 s of listening");
            await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, 50).Select(r => ("GET", $"/users/{r}")).ToList(), 2);
            await Until(() => sink.Counts.GetValueOrDefault(srv.Pid) == 50, $"50 requests counted, got {sink.Counts.GetValueOrDefault(srv.Pid)}");
            Assert.Equal(50, sink.Services["late"]);
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// A process stopped right after its last request: its requests are still in the
    /// ring buffer when its exit arrives, and are counted for its service all the same.
    /// </summary>
    [RootFact]
    public async Task Requests_just_before_an_exit_are_counted()
    {
        const int Processes = 20, PerProcess = 15;
        string bin = Repo.GoServer("nethttp-stripped");
        var sink = new PerPidSink();
        var pipeline = new TracingPipeline(sink, NullLoggerFactory.Instance);
        var config = new SondeConfig { Targets = [new TargetSelector { Kind = TargetKind.Exe, Exe = bin, Service = "last" }] };
        await pipeline.StartAsync(config, CancellationToken.None);
        try
        {
            var pids = new List<int>();
            for (int i = 0; i < Processes; i++)
            {
                using var srv = GoServer.Start("nethttp-stripped");
                await Until(() => pipeline.TracedPids.Contains(srv.Pid), $"pid {srv.Pid} traced within 3 s of its start");
                await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, PerProcess).Select(r => ("GET", $"/users/{r}")).ToList(), 1);
                srv.Stop();   // SIGTERM right after the last answer
                pids.Add(srv.Pid);
                await Until(() => !pipeline.TracedPids.Contains(srv.Pid), $"pid {srv.Pid} forgotten after its exit");
            }
            // The consumer reads the ring every 100 ms at most when idle: give it a few rounds, then judge.
            for (long deadline = Environment.TickCount64 + 2000; Environment.TickCount64 < deadline && !pids.All(p => sink.Counts.GetValueOrDefault(p) == PerProcess);)
                await Task.Delay(20);
            output.WriteLine(string.Join(", ", pids.Select(p => $"{p}: {sink.Counts.GetValueOrDefault(p)}")));
            Assert.All(pids, p => Assert.Equal(PerProcess, sink.Counts.GetValueOrDefault(p)));
            Assert.Equal((long)Processes * PerProcess, sink.Services["last"]);
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Reloads (SIGHUP) racing execs: 20 rounds, each starting a new executable (a
    /// fresh copy, so it is analysed while the reload re-matches every process) and
    /// reloading at once. Both go through the control loop, so every executable's
    /// probes are attached once (a reload once re-matched processes beside it, and
    /// 6–9 of 20 executables got every uprobe twice). Each round's process is traced.
    /// </summary>
    [RootFact]
    public async Task Reloads_racing_execs_attach_each_executable_once()
    {
        string bin = Repo.GoServer("nethttp-stripped");
        // The probes sonde run attaches for one executable (the breakdown is on by default).
        int sites = TargetAnalysis.For(Sonde.GoBinary.GoExecutable.Open(bin), EndProbeMode.Auto, breakdown: true).Plan.Sites.Count;
        string dir = Directory.CreateTempSubdirectory("sonde-reload-race").FullName;
        var sink = new PerPidSink();
        var pipeline = new TracingPipeline(sink, NullLoggerFactory.Instance);
        var config = new SondeConfig { Targets = [new TargetSelector { Kind = TargetKind.Exe, Exe = Path.Combine(dir, "srv-*"), Service = "racy" }] };
        await pipeline.StartAsync(config, CancellationToken.None);
        int kernelEvents = pipeline.Counts.Probes;   // the breakdown's tracepoints, attached once
        var servers = new List<GoServer>();
        try
        {
            for (int round = 0; round < 20; round++)
            {
                string copy = Path.Combine(dir, $"srv-{round:00}");
                File.Copy(bin, copy);
                var srv = GoServer.Start("nethttp-stripped", binaryPath: copy);
                servers.Add(srv);
                await pipeline.ReloadAsync(config, CancellationToken.None);
                await Until(() => pipeline.TracedPids.Contains(srv.Pid), $"round {round}: pid {srv.Pid} traced");
                Assert.Equal(kernelEvents + (round + 1) * sites, pipeline.Counts.Probes);
            }
            Assert.Equal(20, pipeline.Counts.Binaries);
            Assert.Equal(20, pipeline.Counts.Processes);
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
            foreach (var s in servers) s.Dispose();
            Directory.Delete(dir, true);
        }
    }

    [RootFact]
    public async Task Processes_that_start_and_stop_are_followed_exactly_and_nothing_leaks()
    {
        const int Churns = 300, PerProcess = 20;
        string bin = Repo.GoServer("gin-stripped");
        var sink = new PerPidSink();
        var pipeline = new TracingPipeline(sink, NullLoggerFactory.Instance);
        var config = new SondeConfig { Targets = [new TargetSelector { Kind = TargetKind.Exe, Exe = bin, Service = "churn" }] };
        await pipeline.StartAsync(config, CancellationToken.None);
        try
        {
            // One process first so the binary is analysed and attached before measuring.
            var expected = new Dictionary<int, long>();
            int fdsBefore = 0;
            long memBefore = 0;
            for (int i = 0; i <= Churns; i++)
            {
                using var srv = GoServer.Start("gin-stripped");
                await Until(() => pipeline.TracedPids.Contains(srv.Pid), $"pid {srv.Pid} traced within 3 s of its start");
                await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, PerProcess).Select(r => ("GET", $"/users/{r}")).ToList(), 2);
                await Until(() => sink.Counts.GetValueOrDefault(srv.Pid) == PerProcess, $"pid {srv.Pid}: {PerProcess} requests counted, got {sink.Counts.GetValueOrDefault(srv.Pid)}");
                expected[srv.Pid] = PerProcess;
                srv.Stop();
                await Until(() => !pipeline.TracedPids.Contains(srv.Pid), $"pid {srv.Pid} forgotten after its exit");
                if (i == 0)
                {
                    fdsBefore = OpenFds();
                    memBefore = GC.GetTotalMemory(forceFullCollection: true);
                }
            }
            await Task.Delay(300);
            int fdsAfter = OpenFds();
            long memAfter = GC.GetTotalMemory(forceFullCollection: true);
            var (processes, binaries, probes) = pipeline.Counts;
            output.WriteLine($"{Churns} churns: fds {fdsBefore} -> {fdsAfter}, managed memory {memBefore / 1024} -> {memAfter / 1024} KiB, {binaries} binaries, {probes} probes");

            Assert.Equal(expected.OrderBy(e => e.Key), sink.Counts.OrderBy(e => e.Key));
            Assert.Equal((long)(Churns + 1) * PerProcess, sink.Services["churn"]);
            Assert.Equal(0, processes);
            Assert.Equal(1, binaries);
            Assert.True(probes > 0, "the executable keeps its probes for a restart");
            Assert.InRange(fdsAfter, 0, fdsBefore + 4);
            Assert.InRange(memAfter - memBefore, long.MinValue, 8L << 20);
            Assert.Equal(0UL, pipeline.Stats!.Value.Drops);
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
        }
        // This process holds no BPF link or perf event any more (process-local: other
        // tracers on the machine don't matter).
        Assert.Empty(BpfFdsOfThisProcess());
    }

    private static List<string> BpfFdsOfThisProcess() => Directory.GetFiles("/proc/self/fd")
        .Select(fd => { try { return new FileInfo(fd).LinkTarget ?? ""; } catch (IOException) { return ""; } })
        .Where(t => t.Contains("bpf_link", StringComparison.Ordinal) || t.Contains("perf_event", StringComparison.Ordinal)).ToList();

    /// <summary>
    /// A new build copied over a traced executable in place (same inode, once its
    /// process stopped): the old build's probes, which the kernel keeps on the inode at
    /// the old offsets, come off at the write, and the new build's process is analysed
    /// and traced as itself, every request counted and the server unharmed.
    /// </summary>
    [RootFact]
    public async Task A_build_copied_over_a_traced_file_in_place_is_traced_as_itself()
    {
        string dir = Directory.CreateTempSubdirectory("sonde-inplace").FullName;
        string app = Path.Combine(dir, "app");
        File.Copy(Repo.GoServer("nethttp-stripped"), app);   // Go 1.19
        var sink = new PerPidSink();
        var pipeline = new TracingPipeline(sink, NullLoggerFactory.Instance);
        var config = new SondeConfig { Targets = [new TargetSelector { Kind = TargetKind.Exe, Exe = app, Service = "inplace" }] };
        await pipeline.StartAsync(config, CancellationToken.None);
        try
        {
            int kernelLinks = pipeline.Counts.Probes;
            var plan = Enumerable.Range(0, 20).Select(r => ("GET", $"/users/{r}")).ToList();
            using (var old = GoServer.Start("inplace-old", binaryPath: app))
            {
                await Until(() => pipeline.TracedPids.Contains(old.Pid), "the first build traced");
                await LoadClient.SendAsync(old.BaseUrl, plan, 2);
                await Until(() => sink.Counts.GetValueOrDefault(old.Pid) == 20, "its 20 requests counted");
                old.Stop();
                await Until(() => !pipeline.TracedPids.Contains(old.Pid), "its exit seen");
            }
            Assert.Equal(1, pipeline.Counts.Binaries);   // kept for a restart (UnusedBinaryGrace)
            Assert.True(Sonde.Interop.LibC.FileIdentity.TryOf(app, out var before));
            using (var target = new FileStream(app, FileMode.Truncate, FileAccess.Write))
            using (var build = File.OpenRead(Repo.GoServer(GoMatrix.Server(GoMatrix.Newest, "nethttp-stripped"))))
                build.CopyTo(target);
            Assert.True(Sonde.Interop.LibC.FileIdentity.TryOf(app, out var after));
            Assert.Equal(before, after);   // the premise: the same inode, rewritten
            // The kernel removes uprobes one at a time (~110 ms each here): a process of the
            // new build started before the last is gone would still meet it (README).
            await Until(() => pipeline.RewritesDetached == 1, "the old build's probes detached at the write", ms: 10_000);
            Assert.Equal((0, kernelLinks), (pipeline.Counts.Binaries, pipeline.Counts.Probes));

            using var srv = GoServer.Start("inplace-new", binaryPath: app);
            await Until(() => pipeline.TracedPids.Contains(srv.Pid), "the new build traced");
            var sent = await LoadClient.SendAsync(srv.BaseUrl, plan, 2);
            Assert.All(sent, r => Assert.Equal(200, r.Status));
            await Until(() => sink.Counts.GetValueOrDefault(srv.Pid) == 20, $"its 20 requests counted, got {sink.Counts.GetValueOrDefault(srv.Pid)}");
            Assert.False(srv.HasExited);
            Assert.Equal(40, sink.Services["inplace"]);
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
            Directory.Delete(dir, true);
        }
    }

    [RootFact]
    public async Task A_matching_process_that_is_not_Go_is_reported_with_its_reason()
    {
        var reasons = new ConcurrentQueue<string>();
        var pipeline = new TracingPipeline(new PerPidSink(), NullLoggerFactory.Instance) { AttachFailed = reasons.Enqueue };
        var config = new SondeConfig { Targets = [new TargetSelector { Kind = TargetKind.Process, Process = "sleep" }] };
        await pipeline.StartAsync(config, CancellationToken.None);
        try
        {
            using var sleeper = System.Diagnostics.Process.Start("sleep", "30")!;
            try
            {
                await Until(() => reasons.Contains("not_a_go_binary"), "the attach failure reported");
                Assert.DoesNotContain(sleeper.Id, pipeline.TracedPids);
            }
            finally { sleeper.Kill(); }
        }
        finally { await pipeline.StopAsync(CancellationToken.None); }
    }
}
