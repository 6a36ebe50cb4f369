using System.Text.RegularExpressions;
using Sonde.Tests.Hosting;
using Sonde.Tests.Support;
using Xunit.Abstractions;

namespace Sonde.Tests.Packaging;

/// <summary>
/// The .deb's life on a machine, in a real systemd whose root is the machine's
/// under a tmpfs overlay (<see cref="OverlayRoot"/>): dpkg writes into the
/// overlay only, and the .NET SDK is deleted from it, so the service proves it
/// needs no .NET on the host. The README's "Install" section runs the same
/// commands.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class DebianPackageInstallTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string[] DotnetPaths = ["/usr/share/dotnet", "/usr/bin/dotnet", "/usr/lib/dotnet", "/root/.dotnet", "/etc/dotnet"];

    // A container image's policy-rc.d ("exit 101": never start services) makes
    // deb-systemd-invoke a no-op; a Debian host has none. Where it exists here,
    // the namespace's machine goes without it.
    private static readonly string[] Hidden = [.. DotnetPaths, "/usr/sbin/policy-rc.d"];

    // Under the checkout, which the namespace sees (its /tmp is its own).
    private readonly string _work = Directory.CreateDirectory(Path.Combine(Repo.Root, "out", "package-test-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static long CountFor(string metrics, string service) => Regex.Matches(metrics,
            $@"^http_server_request_duration_seconds_count\{{[^}}]*service=""{service}""[^}}]*\}} (\d+)", RegexOptions.Multiline)
        .Sum(m => long.Parse(m.Groups[1].Value));

    [PackageSystemdFact]
    public async Task Install_trace_upgrade_remove_and_purge_in_a_real_systemd_without_dotnet()
    {
        using var ns = SystemdNamespace.Start(new OverlayRoot(Hidden));
        var dpkgEnv = new[] { "env", "DEBIAN_FRONTEND=noninteractive", "PATH=/usr/sbin:/usr/bin:/sbin:/bin" };
        CommandResult Dpkg(params string[] args) => ns.Run([.. dpkgEnv, "dpkg", .. args]);
        string Journal() => ns.Run("journalctl", "--no-pager", "-o", "cat", "-u", "sonde.service").Stdout;
        void Ok(CommandResult r, string what) => Assert.True(r.ExitCode == 0, $"{what}: exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}\nJournal:\n{Journal()}");

        // The namespace's machine has no .NET at all.
        Assert.NotEqual(0, ns.Run("sh", "-c", "command -v dotnet").ExitCode);
        Assert.All(DotnetPaths, p => Assert.NotEqual(0, ns.Run("test", "-e", p).ExitCode));
        Assert.NotEqual(0, ns.Run("dpkg", "-s", "sonde").ExitCode);

        // 1. Install, as the README says: the one dependency that may be missing
        //    (already there: a no-op, offline), then the package. Enabled, not
        //    started (packaging/debian/postinst says why).
        Ok(ns.Run([.. dpkgEnv, "apt-get", "install", "-y", "-q", "--no-download", "libbpf1"]), "apt-get install libbpf1");
        Ok(Dpkg("-i", DebianPackage.DebPath), "dpkg -i");
        Assert.Equal("enabled", ns.Systemctl("is-enabled", "sonde.service").Stdout.Trim());
        Assert.Equal("inactive", ns.Show("sonde.service", "ActiveState"));
        Assert.Equal($"sonde {DebianPackage.Version}", ns.Run("sonde", "version").Stdout.Trim());
        // The installed unit passes systemd-analyze verify, man page included.
        var verify = ns.Run("systemd-analyze", "verify", "/lib/systemd/system/sonde.service");
        Assert.True(verify.ExitCode == 0 && (verify.Stdout + verify.Stderr).Trim().Length == 0,
            $"systemd-analyze verify: exit {verify.ExitCode}\n{verify.Stdout}{verify.Stderr}");
        Assert.Contains("sonde trace", ns.Run("man", "-P", "cat", "sonde").Stdout);

        // 2. A Go service, and a config that traces it: the local edit to keep.
        int metricsPort = FreePort.Next(), appPort = FreePort.Next();
        string goUnit = $"shop-{ns.Id}.service";
        Ok(ns.Run("systemd-run", $"--unit={goUnit}", Repo.GoServer("nethttp"), "-addr", $"127.0.0.1:{appPort}"), "the Go service");
        string edited = $$"""
            // Edited by the administrator (the package test).
            {
              "targets": [ { "unit": "{{goUnit}}", "service": "shop" } ],
              "metrics": { "listen": "127.0.0.1:{{metricsPort}}" },
            }
            """;
        Ok(ns.RunWithInput(edited, "sh", "-c", "cat > /etc/sonde/sonde.json"), "editing /etc/sonde/sonde.json");
        Ok(ns.Run("sonde", "check-config", "/etc/sonde/sonde.json"), "sonde check-config");

        // 3. Start: the Go service is traced and /metrics counts its requests.
        var bpf = BpfFootprint.Before();
        Ok(ns.Systemctl("start", "sonde.service"), "systemctl start sonde");
        Assert.Equal("active", ns.Show("sonde.service", "ActiveState"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string metricsUrl = $"http://127.0.0.1:{metricsPort}/metrics";
        await SendAndSee(100, 100);
        bpf.Attached();
        // STATUS= is refreshed every few seconds.
        CommandResult status;
        var statusDeadline = DateTime.UtcNow.AddSeconds(15);
        while (!((status = ns.Systemctl("status", "sonde.service")).ExitCode == 0
                 && status.Stdout.Contains("Status: \"1 target,", StringComparison.Ordinal)) && DateTime.UtcNow < statusDeadline)
            await Task.Delay(200);
        Assert.True(status.ExitCode == 0 && status.Stdout.Contains("Status: \"1 target,", StringComparison.Ordinal),
            $"systemctl status sonde:\n{status.Stdout}");
        string firstPid = ns.Show("sonde.service", "MainPID");
        // The service runs the package's binary, as a dynamic user, with no .NET around.
        Assert.Equal("/usr/bin/sonde", ns.Run("readlink", $"/proc/{firstPid}/exe").Stdout.Trim());
        Assert.NotEqual("0", ns.Run("stat", "-c", "%u", $"/proc/{firstPid}").Stdout.Trim());

        // 4. Upgrade to a newer build, same default config: the edit stays, the
        //    running service is restarted on the new package and traces again.
        string newer = DebianPackage.Rebuild(_work, DebianPackage.Version + "+upgrade1");
        Ok(Dpkg("-i", newer), "dpkg -i (upgrade)");
        Assert.Equal(DebianPackage.Version + "+upgrade1", ns.Run("dpkg-query", "-W", "-f=${Version}", "sonde").Stdout);
        Assert.Equal(edited, ns.Run("cat", "/etc/sonde/sonde.json").Stdout);
        Assert.Equal("active", ns.Show("sonde.service", "ActiveState"));
        Assert.NotEqual(firstPid, ns.Show("sonde.service", "MainPID"));
        await SendAndSee(50, 50);

        // 5. Upgrade to a build whose default config changed too: dpkg would ask;
        //    --force-confold keeps the local file and puts the new one beside it.
        string newest = DebianPackage.Rebuild(_work, DebianPackage.Version + "+upgrade2",
            c => c.Replace("\"ringbuf_mib\": 8", "\"ringbuf_mib\": 16"));
        Ok(Dpkg("-i", "--force-confold", newest), "dpkg -i --force-confold (upgrade, changed conffile)");
        Assert.Equal(edited, ns.Run("cat", "/etc/sonde/sonde.json").Stdout);
        Assert.Contains("\"ringbuf_mib\": 16", ns.Run("cat", "/etc/sonde/sonde.json.dpkg-dist").Stdout);
        Assert.Equal("active", ns.Show("sonde.service", "ActiveState"));
        await SendAndSee(20, 20);

        // 6. Remove: stopped, every probe detached, the binary gone, the config kept.
        Ok(Dpkg("-r", "sonde"), "dpkg -r");
        Assert.Equal("inactive", ns.Show("sonde.service", "ActiveState"));
        bpf.Gone();
        Assert.NotEqual(0, ns.Run("test", "-e", "/usr/bin/sonde").ExitCode);
        Assert.Equal(edited, ns.Run("cat", "/etc/sonde/sonde.json").Stdout);
        Assert.Contains("deinstall ok config-files", ns.Run("dpkg-query", "-W", "-f=${Status}", "sonde").Stdout);

        // 7. Purge: config, its .dpkg-dist, state and enablement all gone.
        Ok(Dpkg("-P", "sonde"), "dpkg -P");
        foreach (var path in new[] { "/etc/sonde", "/var/lib/sonde", "/var/lib/private/sonde",
                     "/etc/systemd/system/multi-user.target.wants/sonde.service", "/etc/systemd/system/sonde.service",
                     "/var/lib/systemd/deb-systemd-helper-enabled/sonde.service.dsh-also" })
            Assert.True(ns.Run("test", "-e", path).ExitCode != 0, $"{path} is left after dpkg -P");
        Assert.NotEqual(0, ns.Run("dpkg", "-s", "sonde").ExitCode);
        Ok(ns.Systemctl("stop", goUnit), "stopping the Go service");

        async Task SendAndSee(int requests, long expected)
        {
            long seen = -1;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            // Ready means attached: the service is traced once sonde_targets says so.
            while (DateTime.UtcNow < deadline && !await Contains(metricsUrl, "sonde_targets 1")) await Task.Delay(100);
            var sent = await LoadClient.SendAsync($"http://127.0.0.1:{appPort}",
                Enumerable.Range(0, requests).Select(i => ("GET", $"/hello/{i}")).ToList(), 4);
            Assert.All(sent, r => Assert.True(r.Status > 0));
            while (DateTime.UtcNow < deadline && (seen = CountFor(await Get(metricsUrl), "shop")) != expected) await Task.Delay(100);
            output.WriteLine($"{requests} requests sent, /metrics counts {seen}");
            Assert.True(seen == expected, $"/metrics counts {seen} requests of shop, expected {expected}.\n{await Get(metricsUrl)}\nJournal:\n{Journal()}");
        }

        async Task<string> Get(string url)
        {
            try { return await http.GetStringAsync(url); }
            catch (HttpRequestException) { return ""; }
            catch (TaskCanceledException) { return ""; }
        }

        async Task<bool> Contains(string url, string text) => (await Get(url)).Contains(text, StringComparison.Ordinal);
    }
}
