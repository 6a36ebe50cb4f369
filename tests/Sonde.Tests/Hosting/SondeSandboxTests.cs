using System.Diagnostics;
using Sonde.Tests.Support;

namespace Sonde.Tests.Hosting;

/// <summary>
/// Tracing inside the sandbox packaging/sonde.service builds — DynamicUser,
/// exactly the capabilities it lists, ProtectSystem=strict, PrivateDevices,
/// ProtectKernelTunables, the system call filter — against a Go server that
/// runs as another user from a directory only that user may enter. `sonde
/// trace` stands in for the daemon's pipeline: it needs the same kernel
/// interfaces (BPF, uprobes, /proc of other users, their binaries).
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class SondeSandboxTests
{
    [SystemdFact]
    public async Task Trace_attaches_and_counts_requests_inside_the_units_sandbox()
    {
        if (new RootFactAttribute().Skip is { } why) Assert.Fail(why);
        using var ns = SystemdNamespace.Start();
        string dir = Path.Combine(Repo.Root, "out", "test-systemd", $"sandbox-{ns.Id}");
        string privateDir = Path.Combine(dir, "private");
        Directory.CreateDirectory(privateDir);
        try
        {
            // The target: nobody's server, in a 0700 directory of nobody's.
            string app = Path.Combine(privateDir, "app");
            File.Copy(Repo.GoServer("nethttp"), app);
            Chown(privateDir, 65534);
            Chown(app, 65534);
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(privateDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            int port = FreePort.Next();
            var r = ns.Run("systemd-run", "--unit", $"goserver-{ns.Id}", "-p", "User=nobody", app, "-addr", $"127.0.0.1:{port}", "-log", "/dev/null");
            Assert.True(r.ExitCode == 0, r.Stderr);
            await WaitListening(port);

            // The unit as shipped, with `sonde trace` as its command.
            string name = $"sonde-{ns.Id}-trace.service";
            var lines = File.ReadAllLines(Path.Combine(Repo.Root, "packaging", "sonde.service")).Select(l =>
                l.StartsWith("ExecStart=", StringComparison.Ordinal) ? $"ExecStart={BuiltSonde.Path} trace --exe {app} --duration 4s"
                : l.StartsWith("Type=", StringComparison.Ordinal) ? "Type=exec"
                : l.StartsWith("WatchdogSec=", StringComparison.Ordinal) ? "WatchdogSec=0"
                : l.StartsWith("Restart=", StringComparison.Ordinal) ? "Restart=no"
                : l);
            ns.InstallUnit(name, string.Join('\n', lines) + "\n", "[Service]\n" + SystemdNamespace.CheckoutVisibility());
            Assert.Equal(0, ns.Systemctl("start", name).ExitCode);
            string Journal() => ns.Run("journalctl", "--no-pager", "-o", "cat", "-u", name).Stdout;
            var sw = Stopwatch.StartNew();
            while (!Journal().Contains("probes attached") && sw.Elapsed < TimeSpan.FromSeconds(15))
            {
                Assert.True(ns.Show(name, "ActiveState") is "active" or "activating", "sonde trace ended early:\n" + Journal());
                await Task.Delay(50);
            }
            var results = await LoadClient.SendAsync($"http://127.0.0.1:{port}", Enumerable.Repeat(("GET", "/hello"), 50).ToList(), 2);
            Assert.All(results, x => Assert.Equal(200, x.Status));
            while (ns.Show(name, "ActiveState") is "active" or "deactivating" && sw.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(100);

            string journal = Journal();
            Assert.Equal("0", ns.Show(name, "ExecMainStatus"));
            Assert.Contains("50 requests, 0 dropped", journal);
            Assert.Contains("tracing every process of " + app, journal);
            // It ran as an unprivileged uid, with only the listed capabilities.
            var uid = ns.Run("journalctl", "--no-pager", "-o", "verbose", "-u", name, "_COMM=sonde").Stdout
                .Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("_UID=", StringComparison.Ordinal));
            Assert.NotEqual("_UID=0", uid);
        }
        finally
        {
            ns.Dispose();
            Directory.Delete(dir, true);
        }
        Assert.Empty(ns.Leftovers);
    }

    private static void Chown(string path, int uid)
    {
        using var p = Process.Start("/bin/chown", [$"{uid}:{uid}", path]);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    private static async Task WaitListening(int port)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                using var c = new System.Net.Sockets.TcpClient();
                await c.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (System.Net.Sockets.SocketException) { await Task.Delay(20); }
        }
        throw new TimeoutException($"the Go server did not listen on {port}");
    }
}
