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
        var start = BpfProgramStats.Read(ours["sonde_http_start"]);
        Assert.Equal((long)tracer.ReadStats().StartHits, start.RunCount);
        Assert.Equal(50, start.RunCount);
        Assert.InRange(start.RunTimeNs, 1, 50 * 1_000_000L);

        var registry = new MetricsRegistry();
        var self = new SelfMetrics(registry);
        foreach (var (name, fd) in ours) self.SetBpfProgramStats(name, BpfProgramStats.Read(fd));
        var text = System.Text.Encoding.UTF8.GetString(MetricsExposition.ToBytes(registry.Collect(), ExpositionFormat.PrometheusText));
        Assert.Contains("sonde_bpf_runs_total{program=\"sonde_http_start\"} 50\n", text);
        Assert.Contains("sonde_bpf_run_time_seconds_total{program=\"sonde_http_start\"} ", text);
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
