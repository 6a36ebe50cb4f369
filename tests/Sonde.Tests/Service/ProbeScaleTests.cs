using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Sonde.Config;
using Sonde.GoBinary;
using Sonde.Service;
using Sonde.Tests.Support;
using Sonde.Tracing;
using Xunit.Abstractions;

namespace Sonde.Tests.Service;

/// <summary>
/// Probes per process, and many of them: a process a <c>pids</c> target names gets
/// probes of its own, so its file's other processes take no breakpoint; and a daemon
/// with a thousand probes stops well within systemd's TimeoutStopSec.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class ProbeScaleTests(ITestOutputHelper output)
{
    /// <summary>
    /// The byte at a file offset of <paramref name="binary"/> as process <paramref name="pid"/>
    /// sees it in memory (/proc/PID/maps for where the file is mapped, /proc/PID/mem to
    /// read it): 0xCC where a uprobe's breakpoint is installed in that process.
    /// </summary>
    private static byte ByteInMemory(int pid, string binary, long fileOffset)
    {
        var ino = new FileInfo(binary);
        foreach (var line in File.ReadLines($"/proc/{pid}/maps"))
        {
            var f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 6 || Path.GetFileName(f[5].Trim()) != ino.Name) continue;
            var range = f[0].Split('-');
            long start = long.Parse(range[0], NumberStyles.HexNumber), end = long.Parse(range[1], NumberStyles.HexNumber);
            long off = long.Parse(f[2], NumberStyles.HexNumber);
            if (fileOffset < off || fileOffset >= off + (end - start)) continue;
            using var mem = new FileStream($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read);
            mem.Seek(start + (fileOffset - off), SeekOrigin.Begin);
            int b = mem.ReadByte();
            return b < 0 ? throw new IOException("short read") : (byte)b;
        }
        throw new InvalidOperationException($"offset 0x{fileOffset:x} of {binary} is not mapped in pid {pid}");
    }

    [RootFact]
    public async Task A_pids_target_puts_no_breakpoint_in_the_other_processes_of_its_file()
    {
        string bin = Repo.GoServer("nethttp-stripped");
        var plan = ProbePlan.For(GoExecutable.Open(bin), EndProbeMode.Auto);
        var start = plan.Sites.First(s => s.Program == "sonde_http_start");
        byte inFile;
        using (var f = File.OpenRead(bin)) { f.Seek(start.FileOffset, SeekOrigin.Begin); inFile = (byte)f.ReadByte(); }
        Assert.NotEqual(0xCC, inFile);

        using var traced = GoServer.Start("nethttp-stripped");
        using var bystander = GoServer.Start("nethttp-stripped");
        var sink = new PerPidSink();
        var pipeline = new TracingPipeline(sink, NullLoggerFactory.Instance);
        var config = new SondeConfig { Targets = [new TargetSelector { Kind = TargetKind.Pids, Pids = [traced.Pid], Service = "one" }] };
        await pipeline.StartAsync(config, CancellationToken.None);
        try
        {
            var deadline = Environment.TickCount64 + 5000;
            while (!pipeline.TracedPids.Contains(traced.Pid) && Environment.TickCount64 < deadline) await Task.Delay(10);
            Assert.Contains(traced.Pid, pipeline.TracedPids);
            Assert.Equal(0xCC, ByteInMemory(traced.Pid, bin, start.FileOffset));
            Assert.Equal(inFile, ByteInMemory(bystander.Pid, bin, start.FileOffset));
            if (HttpTracer.KernelHasUprobeMulti)
                Assert.Contains("uprobe_multi", LinkTypes());

            var plan20 = Enumerable.Range(0, 20).Select(i => ("GET", $"/users/{i}")).ToList();
            await LoadClient.SendAsync(bystander.BaseUrl, plan20, 2);
            await LoadClient.SendAsync(traced.BaseUrl, plan20, 2);
            deadline = Environment.TickCount64 + 3000;
            while (sink.Counts.GetValueOrDefault(traced.Pid) < 20 && Environment.TickCount64 < deadline) await Task.Delay(10);
            Assert.Equal(20, sink.Counts.GetValueOrDefault(traced.Pid));
            Assert.Equal(0, sink.Counts.GetValueOrDefault(bystander.Pid));
        }
        finally
        {
            await pipeline.StopAsync(CancellationToken.None);
        }
        // Its own probes came off with the pipeline: the process's code is as in the file again.
        Assert.Equal(inFile, ByteInMemory(traced.Pid, bin, start.FileOffset));
    }

    /// <summary>The link types of this process's BPF links (/proc/self/fdinfo).</summary>
    private static List<string> LinkTypes()
    {
        var types = new List<string>();
        foreach (var fd in Directory.GetFiles("/proc/self/fdinfo"))
        {
            try
            {
                foreach (var l in File.ReadLines(fd))
                    if (l.StartsWith("link_type:", StringComparison.Ordinal)) types.Add(l[10..].Trim());
            }
            catch (IOException) { }
        }
        return types;
    }

    /// <summary>
    /// `sonde run` with a thousand uprobes stops on SIGTERM with exit code 0 within
    /// 10 s, a third of systemd's TimeoutStopSec (30 s, packaging/sonde.service):
    /// <list type="bullet">
    /// <item>112 executables (copies: each its own inode), one process each, an
    /// <c>exe</c> target: probes for every process of each file, 1,008 in all.
    /// (Single uprobe links take ~110 ms each to close in the kernel: over 100 s
    /// for these; a multi-uprobe link takes one SRCU grace period, ~16 ms here, and
    /// each file or process has one.)</item>
    /// <item>112 processes of one file named by a <c>pids</c> target: probes of
    /// their own, one link each, 1,008 probes again.</item>
    /// </list>
    /// </summary>
    [RootTheory]
    [InlineData("copies", 10)]
    [InlineData("pids", 10)]
    public async Task Sonde_run_stops_on_SIGTERM_in_time_with_a_thousand_probes(string layout, int withinSeconds)
    {
        const int Processes = 112;
        var servers = new List<GoServer>();
        string dir = Directory.CreateTempSubdirectory("sonde-probescale").FullName;
        try
        {
            string bin = Repo.GoServer("nethttp-stripped");
            for (int i = 0; i < Processes; i++)
            {
                string path = bin;
                if (layout == "copies") File.Copy(bin, path = Path.Combine(dir, $"srv-{i:000}"));
                servers.Add(GoServer.Start("nethttp-stripped", binaryPath: path));
            }
            int metricsPort = FreePort.Next();
            string config = Path.Combine(dir, "sonde.json");
            string target = layout == "copies"
                ? "{\"exe\":\"" + Path.Combine(dir, "srv-*") + "\",\"service\":\"many\"}"
                : "{\"pids\":[" + string.Join(",", servers.Select(s => s.Pid)) + "],\"service\":\"many\"}";
            File.WriteAllText(config, "{\"targets\":[" + target + "],\"metrics\":{\"listen\":\"127.0.0.1:" + metricsPort + "\"}}");
            using var sonde = SondeRun.Start("run", "--config", config);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            long probes = 0;
            var attach = Stopwatch.StartNew();
            while (attach.Elapsed < TimeSpan.FromSeconds(120))
            {
                try
                {
                    var m = Regex.Match(await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics"), @"(?m)^sonde_probes_attached (\d+)$");
                    if (m.Success && (probes = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)) >= 1000) break;
                }
                catch (HttpRequestException) { }
                Assert.False(sonde.WaitForExit(TimeSpan.FromMilliseconds(200)), "sonde run exited: " + sonde.Stderr);
            }
            Assert.True(probes >= 1000, $"only {probes} probes attached after {attach.Elapsed.TotalSeconds:0} s");
            output.WriteLine($"{layout}: {probes} probes attached for {Processes} processes in {attach.Elapsed.TotalSeconds:0.0} s");
            var stop = Stopwatch.StartNew();
            Posix.Kill(sonde.Pid, Posix.SIGTERM);
            bool exited = sonde.WaitForExit(TimeSpan.FromSeconds(60));
            stop.Stop();
            output.WriteLine($"{layout}: stopped in {stop.Elapsed.TotalSeconds:0.00} s, exit code {(exited ? sonde.ExitCode : -1)}");
            Assert.True(exited, "sonde run did not stop within 60 s of SIGTERM: " + sonde.Stderr);
            Assert.Equal(0, sonde.ExitCode);
            Assert.True(stop.Elapsed < TimeSpan.FromSeconds(withinSeconds), $"stopping took {stop.Elapsed.TotalSeconds:0.0} s, more than {withinSeconds} s");
        }
        finally
        {
            foreach (var s in servers) s.Dispose();
            Directory.Delete(dir, true);
        }
    }
}
