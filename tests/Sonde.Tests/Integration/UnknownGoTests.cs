using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sonde.Config;
using Sonde.GoBinary;
using Sonde.Service;
using Sonde.Tracing;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Integration;

/// <summary>
/// A Go newer than this Sonde knows (1.28, when it comes). No such toolchain
/// exists yet, so the test servers of a known one are copied with the version
/// in their .go.buildinfo rewritten to go1.28.0 (same length, nothing else
/// touched; the copy still runs). Sonde must trace such a binary's latency
/// rather than drop it: from DWARF when it has any, else with the newest known
/// layout once the probed functions' signatures fit, marked unverified (its
/// first requests checked: LayoutCheckTests). The breakdown, whose wait
/// reasons are unknown, is off with a warning.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class UnknownGoTests(ITestOutputHelper output)
{
    private const string Claimed = "go1.28.0";

    /// <summary>A copy of a test server whose build information says <see cref="Claimed"/>.</summary>
    private static string Rewritten(string server)
    {
        var image = File.ReadAllBytes(Repo.GoServer(server));
        var elf = ElfFile.Parse(image);
        var real = GoExecutable.Load(image, server).BuildInfo.GoVersion;
        Assert.Equal(Claimed.Length, real.Length);
        var section = elf.Section(".go.buildinfo")!;
        int at = image.AsSpan((int)section.Offset, (int)section.Size).IndexOf(Encoding.ASCII.GetBytes(real));
        Assert.True(at >= 0, $"{server}: {real} is not in its .go.buildinfo");
        Encoding.ASCII.GetBytes(Claimed).CopyTo(image, (int)section.Offset + at);
        string path = Path.Combine(Path.GetTempPath(), $"sonde-go128-{server.Replace('/', '-')}");
        File.WriteAllBytes(path, image);
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(Claimed, GoExecutable.Open(path).BuildInfo.GoVersion);
        return path;
    }

    [RootTheory]
    [InlineData("go1.27/nethttp-stripped", "UNVERIFIED for go1.28")]
    [InlineData("go1.27/nethttp", "offsets from DWARF")]
    public async Task A_newer_Go_is_traced_for_its_latency(string server, string offsets)
    {
        string binary = Rewritten(server);
        using var srv = GoServer.Start(server, binaryPath: binary);
        string json = Path.Combine(Path.GetTempPath(), $"sonde-go128-{srv.Port}.jsonl");
        using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(), "--json", json);
        sonde.WaitAttached();
        var plan = Enumerable.Range(0, 200).Select(i => ("GET", $"/users/{i}")).ToList();
        var sent = await LoadClient.SendAsync(srv.BaseUrl, plan, 4);
        await Task.Delay(300);
        Assert.Equal(0, sonde.Interrupt());
        output.WriteLine(sonde.Stderr);
        Assert.Contains(offsets, sonde.Stderr);
        Assert.Contains("sonde: warning:", sonde.Stderr);
        Assert.Contains($"no wait-reason table for {Claimed}", sonde.Stderr);
        Assert.Contains("tracing its latency with the breakdown off", sonde.Stderr);
        var records = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        File.Delete(json);
        Assert.Equal(sent.Select(s => $"{s.Path} {s.Status}").Order(), records.Select(r => $"{r.GetProperty("path").GetString()} {r.GetProperty("status").GetInt32()}").Order());
        Assert.All(records, r => Assert.False(r.TryGetProperty("breakdown_ns", out _)));
    }

    private sealed class Counting : IServiceRequestSink
    {
        public readonly ConcurrentDictionary<int, long> Counts = new();
        public void OnRequest(string service, in RequestView request) => Counts.AddOrUpdate(request.Pid, 1, static (_, n) => n + 1);
    }

    /// <summary>`sonde run`'s pipeline, with its default breakdown on, traces the same binary and counts every request.</summary>
    [RootFact]
    public async Task Sonde_run_traces_a_newer_Go_without_DWARF_for_its_latency()
    {
        string binary = Rewritten("go1.27/nethttp-stripped");
        var sink = new Counting();
        var failures = new ConcurrentQueue<string>();
        var pipeline = new TracingPipeline(sink, NullLoggerFactory.Instance) { AttachFailed = failures.Enqueue };
        var config = new SondeConfig { Targets = [new TargetSelector { Kind = TargetKind.Exe, Exe = binary, Service = "newer" }] };
        Assert.True(config.Tracing.Breakdown);
        await pipeline.StartAsync(config, CancellationToken.None);
        try
        {
            using var srv = GoServer.Start("go1.27/nethttp-stripped", binaryPath: binary);
            var deadline = Environment.TickCount64 + 5000;
            while (!pipeline.TracedPids.Contains(srv.Pid) && Environment.TickCount64 < deadline) await Task.Delay(10);
            Assert.Contains(srv.Pid, pipeline.TracedPids);
            await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, 50).Select(i => ("GET", $"/users/{i}")).ToList(), 2);
            deadline = Environment.TickCount64 + 5000;
            while (sink.Counts.GetValueOrDefault(srv.Pid) < 50 && Environment.TickCount64 < deadline) await Task.Delay(10);
            Assert.Equal(50, sink.Counts.GetValueOrDefault(srv.Pid));
            Assert.Empty(failures);
        }
        finally { await pipeline.StopAsync(CancellationToken.None); }
    }
}
