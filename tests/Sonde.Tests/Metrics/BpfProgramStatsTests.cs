using System.Diagnostics;
using System.Text.Json;
using Sonde.GoBinary;
using Sonde.Metrics;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Metrics;

/// <summary>BPF program run statistics from /proc/self/fdinfo, parsed and read from real programs.</summary>
[Collection(KernelCollection.Name)]
public sealed class BpfProgramStatsTests
{
    // The layout of kernel/bpf/syscall.c bpf_prog_show_fdinfo (6.x), values made up.
    private const string Fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t2061\nprog_type:\t2\nprog_jited:\t1\n" +
        "prog_tag:\t1f05d6ee2d3d5b2e\nmemlock:\t4096\nprog_id:\t97\nrun_time_ns:\t123456\nrun_cnt:\t789\nrecursion_misses:\t2\nverified_insns:\t312\n";

    [Fact]
    public void Parse_reads_id_run_time_runs_and_recursion_misses() =>
        Assert.Equal(new BpfProgramStats(97, 123456, 789, 2), BpfProgramStats.Parse(Fdinfo, "test"));

    [Fact]
    public void A_descriptor_that_is_not_a_bpf_program_is_refused()
    {
        using var file = File.OpenRead("/proc/self/status");
        int fd = (int)file.SafeFileHandle.DangerousGetHandle();
        Assert.Throws<InvalidDataException>(() => BpfProgramStats.Read(fd));
        Assert.Throws<IOException>(() => BpfProgramStats.Read(1 << 20));
        Assert.Throws<InvalidDataException>(() => BpfProgramStats.Parse(Fdinfo.Replace("run_cnt", "xx", StringComparison.Ordinal), "old kernel"));
    }

    [RootFact]
    public async Task Run_counts_of_real_programs_equal_their_probe_hits()
    {
        var before = BpfProgramFds();
        using var srv = GoServer.Start("nethttp");
        var exe = GoExecutable.Open(srv.Binary);
        var plan = ProbePlan.For(exe, EndProbeMode.Auto);
        var (config, _) = StructOffsets.Resolve(exe, plan.Routers);
        using var tracer = new HttpTracer(1 << 16);
        var ours = BpfProgramFds().Except(before).ToDictionary(fd => ProgramName(BpfProgramStats.Read(fd).ProgramId));
        Assert.Contains("sonde_http_start", ours.Keys);

        using (BpfStatsScope.Enable())
        {
            tracer.Attach(plan, config, srv.Binary, [srv.Pid], out _);
            await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, 50).Select(i => ("GET", $"/users/{i}")).ToList(), 1);
        }
        // With multi-uprobe links every uprobe runs as the entry program, which tail-calls
        // the probe's own: the kernel counts the runs (and time) of both in the entry's.
        var stats = tracer.ReadStats();
        string counted = tracer.UsesUprobeMulti ? HttpTracer.UprobeEntry : "sonde_http_start";
        long hits = tracer.UsesUprobeMulti ? (long)(stats.StartHits + stats.EndHits + stats.RouteHits) : (long)stats.StartHits;
        var run = BpfProgramStats.Read(ours[counted]);
        Assert.Equal(hits, run.RunCount);
        Assert.Equal(50L * (tracer.UsesUprobeMulti ? 2 : 1), run.RunCount);   // 50 requests, a start and an end each
        Assert.InRange(run.RunTimeNs, 1, 50 * 1_000_000L);
        Assert.Contains(counted, tracer.StatsPrograms);

        var registry = new MetricsRegistry();
        var self = new SelfMetrics(registry);
        foreach (var name in tracer.StatsPrograms) self.SetBpfProgramStats(name, BpfProgramStats.Read(ours[name]));
        var text = System.Text.Encoding.UTF8.GetString(MetricsExposition.ToBytes(registry.Collect(), ExpositionFormat.PrometheusText));
        Assert.Contains($"sonde_bpf_runs_total{{program=\"{counted}\"}} {run.RunCount}\n", text);
        Assert.Contains($"sonde_bpf_run_time_seconds_total{{program=\"{counted}\"}} ", text);
    }

    /// <summary>This process's open descriptors that are BPF programs.</summary>
    private static HashSet<int> BpfProgramFds()
    {
        var fds = new HashSet<int>();
        foreach (var entry in Directory.EnumerateFiles("/proc/self/fdinfo"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int fd)) continue;
            try
            {
                BpfProgramStats.Read(fd);
                fds.Add(fd);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException) { }
        }
        return fds;
    }

    private static string ProgramName(int id)
    {
        var psi = new ProcessStartInfo("bpftool", $"-j prog show id {id}") { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string json = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("name").GetString()!;
    }
}
