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

    /// <summary>
    /// 300 deploys, as a host sees them over weeks: each a Go server started from a
    /// new file at a new path (the previous one deleted, so the filesystem hands its
    /// inode number out again), from a build copied over the last file in place, or
    /// from the same file again; each serving 3 requests and stopped. Four builds
    /// (Go 1.19, 1.24, the newest, and a chi router) take turns, and only 8
    /// executables may be traced at a time, so slots are taken back from idle ones
    /// again and again. Every deploy's requests are counted exactly at its
    /// checkpoint, nothing is lost, and the daemon's fds, threads, RSS and BPF map
    /// entries are where they were after the first 100 deploys.
    /// </summary>
    [RootFact]
    public async Task Three_hundred_deploys_are_each_traced_exactly_and_nothing_leaks()
    {
        const int Deploys = 300, PerDeploy = 3, Warm = 100, MaxExecutables = 8;
        string[] builds =
        [
            Repo.GoServer("nethttp-stripped"), Repo.GoServer(GoMatrix.Server("1.24", "nethttp-stripped")),
            Repo.GoServer(GoMatrix.Server(GoMatrix.Newest, "nethttp-stripped")), Repo.GoServer(GoMatrix.Server(GoMatrix.Newest, "chi-stripped")),
        ];
        string root = Directory.CreateTempSubdirectory("sonde-deploys").FullName;
        var sink = new PerPidSink();
        var pipeline = new TracingPipeline(sink, NullLoggerFactory.Instance);
        var config = new SondeConfig
        {
            Targets = [new TargetSelector { Kind = TargetKind.Exe, Exe = Path.Combine(root, "*", "server"), Service = "deploys" }],
            Tracing = new TracingConfig { MaxExecutables = MaxExecutables },
        };
        await pipeline.StartAsync(config, CancellationToken.None);
        try
        {
            var expected = new Dictionary<int, long>();
            var inodes = new HashSet<ulong>();
            int reusedInodes = 0, inPlace = 0;
            string current = "";
            (int Fds, int Threads, long RssKiB, long ManagedKiB) warm = default;
            var plan = Enumerable.Range(0, PerDeploy).Select(r => ("GET", $"/users/{r}")).ToList();
            for (int i = 0; i < Deploys; i++)
            {
                string build = builds[i % builds.Length];
                switch (i % 3)
                {
                    case 0:   // a new file at a new path; the old one deleted
                        string next = Path.Combine(root, $"d{i}", "server");
                        Directory.CreateDirectory(Path.GetDirectoryName(next)!);
                        if (current != "") Directory.Delete(Path.GetDirectoryName(current)!, true);
                        File.Copy(build, next);
                        current = next;
                        Assert.True(Sonde.Interop.LibC.FileIdentity.TryOf(current, out var id));
                        if (!inodes.Add(id.Inode)) reusedInodes++;
                        break;
                    case 1:   // this build copied over the last one, in place
                        int detached = pipeline.RewritesDetached;
                        using (var target = new FileStream(current, FileMode.Truncate, FileAccess.Write))
                        using (var source = File.OpenRead(build))
                            source.CopyTo(target);
                        inPlace++;
                        // The old build's probes come off at the write; the warning says when (README).
                        await Until(() => pipeline.RewritesDetached > detached, $"deploy {i}: the old build's probes detached at the write", ms: 10_000);
                        break;
                    default:  // the same file started again
                        break;
                }
                using var srv = GoServer.Start($"deploy{i}", binaryPath: current);
                await Until(() => pipeline.TracedPids.Contains(srv.Pid), $"deploy {i} (pid {srv.Pid}) traced within 3 s of its start");
                var sent = await LoadClient.SendAsync(srv.BaseUrl, plan, 1);
                Assert.All(sent, r => Assert.Equal(200, r.Status));
                await Until(() => sink.Counts.GetValueOrDefault(srv.Pid) == PerDeploy,
                    $"deploy {i}: {PerDeploy} requests counted, got {sink.Counts.GetValueOrDefault(srv.Pid)}");
                expected[srv.Pid] = PerDeploy;
                srv.Stop();
                await Until(() => !pipeline.TracedPids.Contains(srv.Pid), $"deploy {i}: pid {srv.Pid} forgotten after its exit");
                Assert.Equal(expected.Values.Sum(), sink.Services["deploys"]);
                Assert.InRange(pipeline.Counts.Binaries, 0, MaxExecutables);
                if (i == Warm) warm = Footprint();
            }
            await Task.Delay(300);
            var end = Footprint();
            var (processes, binaries, _) = pipeline.Counts;
            var stats = pipeline.Stats!.Value;
            output.WriteLine($"{Deploys} deploys ({inPlace} in place, {reusedInodes} new files at a reused inode), " +
                $"{pipeline.SlotsReclaimed} slots taken back from idle executables: fds {warm.Fds} -> {end.Fds}, " +
                $"threads {warm.Threads} -> {end.Threads}, RSS {warm.RssKiB / 1024} -> {end.RssKiB / 1024} MiB, managed heap " +
                $"{warm.ManagedKiB} -> {end.ManagedKiB} KiB; lost: {stats.LostSummary}");

            Assert.Equal(expected.OrderBy(e => e.Key), sink.Counts.OrderBy(e => e.Key));
            Assert.Equal((long)Deploys * PerDeploy, sink.Services["deploys"]);
            Assert.Equal("none", stats.LostSummary);
            Assert.True(reusedInodes > 0, "the premise: ext4 gave a deleted server's inode number to a later one");
            Assert.True(pipeline.SlotsReclaimed > 0, "idle executables gave their slots up when all were taken");
            Assert.Equal(0, processes);
            Assert.InRange(binaries, 1, MaxExecutables);
            Assert.InRange(end.Fds, 0, warm.Fds + 4);
            Assert.InRange(end.Threads, 0, warm.Threads + 4);
            // Measured from deploy 100 to 300: RSS +2 to +6 MiB as the native heap settles (it
            // flattens: +4 MiB from 50 to 100, +2 from 100 to 250), the managed heap +40 KiB.
            Assert.InRange(end.RssKiB - warm.RssKiB, long.MinValue, 16 << 10);
            Assert.InRange(end.ManagedKiB - warm.ManagedKiB, long.MinValue, 1 << 10);
            foreach (var map in new[] { "inflight", "threads", "stws", "tgids" })
                Assert.True(pipeline.BpfMapEntries(map) == 0, $"the BPF map {map} holds {pipeline.BpfMapEntries(map)} entries of processes that are gone");
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
            Directory.Delete(root, true);
        }
        // This process holds no BPF link or perf event any more (process-local: other
        // tracers on the machine don't matter).
        Assert.Empty(BpfFdsOfThisProcess());
    }

    /// <summary>This process's open fds, threads, resident memory and managed heap.</summary>
    private static (int Fds, int Threads, long RssKiB, long ManagedKiB) Footprint()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var status = File.ReadAllLines("/proc/self/status");
        long Field(string name) => long.Parse(status.First(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1]);
        return (OpenFds(), (int)Field("Threads"), Field("VmRSS"), GC.GetTotalMemory(false) / 1024);
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
