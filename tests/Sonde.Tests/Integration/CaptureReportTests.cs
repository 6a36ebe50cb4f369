using System.Text.Json;
using Sonde.Tests.Support;

namespace Sonde.Tests.Integration;

/// <summary>`sonde trace --out` then `sonde report`: the same requests, from the file.</summary>
[Collection(KernelCollection.Name)]
public sealed class CaptureReportTests
{
    [RootFact]
    public async Task Report_from_a_capture_matches_the_live_records()
    {
        using var srv = GoServer.Start("gin");
        string dir = Directory.CreateTempSubdirectory("sonde-capture").FullName;
        string capture = Path.Combine(dir, "c.sonde"), json = Path.Combine(dir, "c.jsonl");
        try
        {
            using var sonde = SondeRun.Start("trace", "--pid", srv.Pid.ToString(), "--out", capture, "--json", json);
            sonde.WaitAttached();
            var plan = Enumerable.Range(0, 600).Select(i => i % 3 == 0 ? ("GET", "/status/500") : ("GET", $"/users/{i}")).ToList();
            await LoadClient.SendAsync(srv.BaseUrl, plan, 4);
            await Task.Delay(200);
            Assert.Equal(0, sonde.Interrupt());

            var text = SondeRun.Run("report", capture);
            Assert.Equal(0, text.ExitCode);
            Assert.Contains("600 requests", text.Stdout);
            Assert.Contains("GET /users/:id", text.Stdout);
            Assert.Contains("GET /status/:code", text.Stdout);
            Assert.Contains("200 errors (5xx)", text.Stdout);

            var report = SondeRun.Run("report", "--format", "json", capture);
            Assert.Equal(0, report.ExitCode);
            using var doc = JsonDocument.Parse(report.Stdout);
            var root = doc.RootElement;
            Assert.Equal(600, root.GetProperty("total_requests").GetInt64());
            Assert.Equal(0, root.GetProperty("drops").GetInt64());
            Assert.False(root.GetProperty("capture_truncated").GetBoolean());
            var live = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("route").GetString()!)
                .GroupBy(r => r).ToDictionary(g => g.Key, g => (long)g.Count());
            var fromFile = root.GetProperty("routes").EnumerateArray()
                .ToDictionary(r => r.GetProperty("route").GetString()!, r => r.GetProperty("count").GetInt64());
            Assert.Equal(live.OrderBy(k => k.Key), fromFile.OrderBy(k => k.Key));
            Assert.Equal(srv.Pid, root.GetProperty("targets")[0].GetProperty("pid").GetInt32());
            Assert.Equal("go1.19.8", root.GetProperty("targets")[0].GetProperty("go_version").GetString());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Report_of_a_missing_or_corrupt_file_is_a_clear_error()
    {
        var r = SondeRun.Run("report", "/nonexistent.sonde");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no such file", r.Stderr);
        string bad = Path.GetTempFileName();
        File.WriteAllText(bad, "this is not a capture");
        r = SondeRun.Run("report", bad);
        File.Delete(bad);
        Assert.Equal(1, r.ExitCode);
        Assert.DoesNotContain("Unhandled exception", r.Stderr);
    }
}
