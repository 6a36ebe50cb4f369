using System.Text.RegularExpressions;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Hosting;

/// <summary>
/// `sonde run` with the real tracing pipeline, started by a real systemd
/// through packaging/sonde.service: a Go service started afterwards (a unit
/// of its own, found by the `unit` selector) is traced, and /metrics counts
/// exactly the requests it served.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class SondeRunTests(SystemdFixture systemd, ITestOutputHelper output) : IClassFixture<SystemdFixture>
{
    private SystemdNamespace Ns => systemd.Namespace;

    private static long CountFor(string metrics, string service) => Regex.Matches(metrics,
            $@"^http_server_request_duration_seconds_count\{{[^}}]*service=""{service}""[^}}]*\}} (\d+)", RegexOptions.Multiline)
        .Sum(m => long.Parse(m.Groups[1].Value));

    [SystemdFact]
    public async Task A_service_started_later_is_traced_and_its_requests_are_on_metrics()
    {
        int metricsPort = FreePort.Next(), appPort = FreePort.Next();
        string goUnit = $"goapp-{Ns.Id}";
        string config = "{\"targets\":[{\"unit\":\"" + goUnit + "\",\"service\":\"shop\"}]," +
            "\"metrics\":{\"listen\":\"127.0.0.1:" + metricsPort + "\"}}";
        using var unit = new SondeUnit(Ns, "real", config, realPipeline: true);
        var bpf = BpfFootprint.Before();
        var start = unit.Systemctl("start");
        Assert.True(start.ExitCode == 0, start.Stderr + string.Join("\n", unit.Journal().Select(e => e.GetValueOrDefault("MESSAGE"))));
        Assert.Equal("active", unit.Show("ActiveState"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string metricsUrl = $"http://127.0.0.1:{metricsPort}/metrics";
        Assert.Contains("sonde_targets", await http.GetStringAsync(metricsUrl));

        var run = Ns.Run("systemd-run", $"--unit={goUnit}", Repo.GoServer("gin-stripped"), "-addr", $"127.0.0.1:{appPort}");
        Assert.True(run.ExitCode == 0, run.Stderr);
        try
        {
            unit.WaitFor(() => unit.Journal().Any(e => (e.GetValueOrDefault("MESSAGE") ?? "").Contains("as service shop")), "the new service traced");
            bpf.Attached();
            await Task.Delay(200);
            var sent = await LoadClient.SendAsync($"http://127.0.0.1:{appPort}",
                Enumerable.Range(0, 500).Select(i => ("GET", $"/users/{i}")).ToList(), 8);
            Assert.All(sent, r => Assert.Equal(200, r.Status));
            long seen = 0;
            unit.WaitFor(() => (seen = CountFor(http.GetStringAsync(metricsUrl).Result, "shop")) == 500 ? true : (bool?)null,
                "500 requests on /metrics");
            string text = await http.GetStringAsync(metricsUrl);
            Assert.Contains("http_route=\"/users/:id\"", text);
            // Self-metrics from the daemon itself.
            Assert.Matches(@"(?m)^sonde_targets 1$", text);
            Assert.Matches(@"(?m)^sonde_probes_attached [1-9]\d*$", text);
            Assert.Matches(@"(?m)^sonde_ringbuf_fill_ratio 0(\.\d+)?(e-\d+)?$", text);
            Assert.Matches(@"(?m)^sonde_events_total 500$", text);
            // The breakdown, per category: every request is in each category's histogram.
            foreach (var category in new[] { "on_cpu", "runnable", "net_io", "syscall", "lock", "chan", "sleep", "gc", "other", "stolen" })
                Assert.Matches($@"(?m)^sonde_request_time_seconds_count\{{service=""shop"",http_route=""/users/:id"",category=""{category}""\}} 500$", text);
            // STATUS= is refreshed every few seconds.
            unit.WaitFor(() => unit.Show("StatusText").StartsWith("1 target,", StringComparison.Ordinal) ? true : (bool?)null,
                "STATUS= naming the one target");
            output.WriteLine(unit.Show("StatusText"));
        }
        finally
        {
            Ns.Systemctl("stop", goUnit);
        }
        var stop = unit.Systemctl("stop");
        Assert.Equal(0, stop.ExitCode);
        Assert.Equal("inactive", unit.Show("ActiveState"));
        bpf.Gone();
    }

    [SystemdFact]
    public async Task Reload_renames_the_service_and_a_stalled_event_loop_is_restarted_by_the_watchdog()
    {
        int metricsPort = FreePort.Next(), appPort = FreePort.Next();
        string goUnit = $"goapp2-{Ns.Id}";
        string Config(string service) => "{\"targets\":[{\"unit\":\"" + goUnit + "\",\"service\":\"" + service + "\"}]," +
            "\"metrics\":{\"listen\":\"127.0.0.1:" + metricsPort + "\"}}";
        // sonde-testhost's hook on the real pipeline: once this file exists, its event loop stalls.
        string stallFile = "/run/sonde-test-stall-" + Ns.Id;
        using var unit = new SondeUnit(Ns, "reload", Config("before"), realPipeline: true, stallFile: stallFile);
        Assert.Equal(0, unit.Systemctl("start").ExitCode);
        var run = Ns.Run("systemd-run", $"--unit={goUnit}", Repo.GoServer("gin-stripped"), "-addr", $"127.0.0.1:{appPort}");
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string metricsUrl = $"http://127.0.0.1:{metricsPort}/metrics";
        try
        {
            unit.WaitFor(() => unit.Journal().Any(e => (e.GetValueOrDefault("MESSAGE") ?? "").Contains("as service before")), "the service traced");
            async Task Send(int n) => await LoadClient.SendAsync($"http://127.0.0.1:{appPort}", Enumerable.Range(0, n).Select(i => ("GET", $"/users/{i}")).ToList(), 4);
            await Send(100);
            unit.WaitFor(() => CountFor(http.GetStringAsync(metricsUrl).Result, "before") == 100 ? true : (bool?)null, "100 requests as 'before'");

            // Reload with a new service name: new requests carry it, the old counts stay.
            File.WriteAllText(unit.ConfigPath, Config("after"));
            Assert.Equal(0, unit.Systemctl("reload").ExitCode);
            // systemd 252's reload via kill -HUP may return before sonde applied it.
            unit.WaitFor(() => unit.Journal().Any(e => (e.GetValueOrDefault("MESSAGE") ?? "").StartsWith("reloaded:", StringComparison.Ordinal)) ? true : (bool?)null,
                "the reload applied");
            await Send(50);
            unit.WaitFor(() => CountFor(http.GetStringAsync(metricsUrl).Result, "after") == 50 ? true : (bool?)null, "50 requests as 'after'");
            Assert.Equal(100, CountFor(await http.GetStringAsync(metricsUrl), "before"));

            // Stall the event loop: the heartbeat stops, systemd's watchdog (2 s here) restarts sonde.
            Assert.Equal("0", unit.Show("NRestarts"));
            Ns.Run("touch", stallFile);
            unit.WaitFor(() => unit.Show("NRestarts") != "0" ? true : (bool?)null, "a watchdog restart", seconds: 15);
            Ns.Run("rm", "-f", stallFile);
            unit.WaitFor(() => unit.Show("ActiveState") == "active" && unit.Show("SubState") == "running" ? true : (bool?)null, "running again", seconds: 15);
            Assert.Contains(unit.Journal(includeSystemd: true), e => (e.GetValueOrDefault("MESSAGE") ?? "").Contains("Watchdog timeout"));
        }
        finally
        {
            Ns.Run("rm", "-f", stallFile);
            Ns.Systemctl("stop", goUnit);
        }
    }
}
