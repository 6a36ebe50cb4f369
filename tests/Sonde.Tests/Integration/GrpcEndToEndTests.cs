using System.Text.Json;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Integration;

/// <summary>
/// `sonde trace` against a real grpc-go server (tests/goservers/grpc, the
/// standard health service): Debian 12's grpc 1.33 built with the oldest Go and
/// the newest, trixie's 1.64 and sid's 1.81 with the newest, each with and
/// without symbols, in the real kernel; calls from a client in
/// the test (<see cref="GrpcHealthClient"/>) over cleartext HTTP/2. Every call
/// is one record: POST, the full method as path and route, HTTP status 200 and
/// the call's gRPC status (OK for a known service, NOT_FOUND for an unknown one),
/// in the order the calls were made; its window contains the window the
/// server's own interceptor measured (tests/goservers/gopath, within 1 µs for the
/// two clock reads); its breakdown sums to its duration.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class GrpcEndToEndTests(ITestOutputHelper output)
{
    private const int CallsPerStatus = 150;

    public static TheoryData<string> Servers()
    {
        var data = new TheoryData<string> { "grpc", "grpc-stripped" };
        foreach (var v in new[] { "grpc", "grpc-trixie", "grpc-sid" })
        {
            data.Add(GoMatrix.Server(GoMatrix.Newest, v));
            data.Add(GoMatrix.Server(GoMatrix.Newest, v + "-stripped"));
        }
        return data;
    }

    [RootTheory]
    [MemberData(nameof(Servers))]
    public async Task Captures_every_call_with_its_method_and_gRPC_status(string server)
    {
        using var srv = GoServer.Start(server);
        string json = Path.Combine(Path.GetTempPath(), $"sonde-grpc-{server.Replace('/', '-')}-{srv.Port}.jsonl");
        var bpf = BpfFootprint.Before();
        using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(), "--json", json);
        sonde.WaitAttached();
        Assert.Contains("gRPC calls (grpc-go)", sonde.Stderr);
        bpf.Attached();

        // One call at a time, so that the records' order is the calls' order.
        var sent = new List<int>();
        using (var client = new GrpcHealthClient(srv.Port))
            for (int i = 0; i < 2 * CallsPerStatus; i++)
            {
                var (grpcStatus, httpStatus) = await client.CheckAsync(i % 3 == 0 ? "nope" : i % 3 == 1 ? "" : "sonde.Test");
                Assert.Equal(200, httpStatus);
                sent.Add(grpcStatus);
            }
        Assert.Equal(Enumerable.Range(0, 2 * CallsPerStatus).Select(i => i % 3 == 0 ? 5 : 0), sent);   // NOT_FOUND, OK, OK, ...
        await Task.Delay(300);
        Assert.Equal(0, sonde.Interrupt());
        output.WriteLine(sonde.Stderr);
        var serverLog = srv.StopAndReadLog().OrderBy(m => m.StartNs).ToList();
        var records = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement)
            .OrderBy(r => r.GetProperty("start_ns").GetUInt64()).ToList();
        File.Delete(json);

        Assert.Equal(sent.Count, records.Count);
        Assert.Equal(sent.Count, serverLog.Count);
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i];
            var m = serverLog[i];
            Assert.Equal(srv.Pid, r.GetProperty("pid").GetInt32());
            Assert.Equal("POST", r.GetProperty("method").GetString());
            Assert.Equal(GrpcHealthClient.CheckMethod, r.GetProperty("path").GetString());
            Assert.Equal(GrpcHealthClient.CheckMethod, r.GetProperty("route").GetString());
            Assert.Equal(200, r.GetProperty("status").GetInt32());
            Assert.Equal(sent[i], r.GetProperty("grpc_status").GetInt32());
            Assert.Equal((GrpcHealthClient.CheckMethod, sent[i]), (m.Path, m.Status));

            long s0 = r.GetProperty("start_ns").GetInt64(), duration = r.GetProperty("duration_ns").GetInt64(), s1 = s0 + duration;
            Assert.True(s0 <= m.StartNs + 1_000 && m.EndNs <= s1 + 1_000,
                $"call {i}: Sonde's window [{s0}, {s1}] does not contain the handler's [{m.StartNs}, {m.EndNs}]");
            long sum = r.GetProperty("breakdown_ns").EnumerateObject().Sum(p => p.Value.GetInt64());
            Assert.Equal(duration, sum);
            // Sending the answer (grpc-go hands it to its writer goroutine) parks on nothing
            // but may take a lock or a channel; the call's own syscalls are the kernel's record.
            Assert.True(r.TryGetProperty("syscalls", out _));
        }
        var excess = records.Zip(serverLog, (r, m) => r.GetProperty("duration_ns").GetInt64() - (m.EndNs - m.StartNs)).Order().ToList();
        output.WriteLine($"{server}: {records.Count} calls; Sonde's duration exceeds the interceptor's by p50 {excess[excess.Count / 2] / 1000.0:0.0} µs, p99 {excess[(int)(excess.Count * 0.99)] / 1000.0:0.0} µs");
        bpf.Gone();
    }
}
