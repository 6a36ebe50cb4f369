using System.Diagnostics;
using System.Text.Json;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Integration;

/// <summary>Attaching and detaching under load, new processes, and targets that go away.</summary>
[Collection(KernelCollection.Name)]
public sealed class TraceLifecycleTests(ITestOutputHelper output)
{
    [RootFact]
    public async Task Target_keeps_serving_through_repeated_attach_and_detach_under_load()
    {
        using var srv = GoServer.Start("gin");
        using var stopLoad = new CancellationTokenSource();
        long ok = 0, failed = 0;
        var load = Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = new Uri(srv.BaseUrl), Timeout = TimeSpan.FromSeconds(10) };
            var workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                for (int i = 0; !stopLoad.IsCancellationRequested; i++)
                {
                    try
                    {
                        using var r = await client.GetAsync($"/users/{w}-{i}");
                        if (r.IsSuccessStatusCode) Interlocked.Increment(ref ok); else Interlocked.Increment(ref failed);
                    }
                    catch (HttpRequestException) { Interlocked.Increment(ref failed); }
                }
            }));
            await Task.WhenAll(workers);
        });

        for (int cycle = 0; cycle < 3; cycle++)
        {
            var bpf = BpfFootprint.Before();
            using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(), "--no-summary");
            sonde.WaitAttached();
            bpf.Attached();
            await Task.Delay(700);
            Assert.Equal(0, sonde.Interrupt());
            Assert.Matches(@"detached \(interrupted\); [1-9]\d* requests", sonde.Stderr);
            bpf.Gone();
        }
        stopLoad.Cancel();
        await load;
        output.WriteLine($"{ok} requests ok, {failed} failed during 3 attach/detach cycles");
        Assert.False(srv.HasExited, "the traced server must survive attach and detach");
        Assert.Equal(0, failed);
        Assert.True(ok > 100);
    }

    [RootFact]
    public async Task Exe_mode_traces_a_process_that_starts_after_the_capture()
    {
        string bin = Repo.GoServer("gin-stripped");
        string json = Path.Combine(Path.GetTempPath(), $"sonde-exe-{Environment.ProcessId}.jsonl");
        using var sonde = SondeRun.Start("trace", "--exe", bin, "--json", json);
        sonde.WaitAttached();
        Assert.Contains("running now: none", sonde.Stderr);
        using var srv = GoServer.Start("gin-stripped");
        var sent = await LoadClient.SendAsync(srv.BaseUrl,
            Enumerable.Range(0, 300).Select(i => ("GET", $"/users/{i}")).ToList(), 4);
        await Task.Delay(300);
        Assert.Equal(0, sonde.Interrupt());
        var records = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        File.Delete(json);
        Assert.Equal(300, records.Count(r => r.GetProperty("pid").GetInt32() == srv.Pid));
        Assert.All(records, r => Assert.Equal("/users/:id", r.GetProperty("route").GetString()));
        Assert.Contains($"tracing new process pid {srv.Pid}", sonde.Stderr);
    }

    [RootFact]
    public void Capture_ends_when_every_target_exits()
    {
        var srv = GoServer.Start("nethttp");
        using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString());
        sonde.WaitAttached();
        var sw = Stopwatch.StartNew();
        srv.Dispose();
        using var p = Process.GetProcessById(sonde.Pid);
        Assert.True(p.WaitForExit(10_000), "sonde should end by itself when its targets exit");
        Assert.Contains("every target process exited", sonde.Stderr);
        output.WriteLine($"ended {sw.ElapsedMilliseconds} ms after the target exited");
    }

    [RootFact]
    public void Duration_ends_the_capture_and_prints_the_summary()
    {
        using var srv = GoServer.Start("nethttp");
        var r = SondeRun.Run("trace", "--pid", srv.Pid.ToString(), "--duration", "1500ms");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("detached (duration elapsed)", r.Stderr);
        Assert.False(string.IsNullOrWhiteSpace(r.Stdout), "the summary goes to stdout");
    }
}
