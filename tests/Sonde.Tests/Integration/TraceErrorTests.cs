using System.Diagnostics;
using Sonde.Tests.Support;

namespace Sonde.Tests.Integration;

/// <summary>Errors a user can act on: a clear message, exit status ≠ 0, nothing left attached.</summary>
[Collection(KernelCollection.Name)]
public sealed class TraceErrorTests
{
    [Fact]
    public void Usage_errors_exit_2_and_name_the_problem()
    {
        var r = SondeRun.Run("trace");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--pid PID or --exe PATH", r.Stderr);
        r = SondeRun.Run("trace", "--pid", "abc");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--pid must be a process id", r.Stderr);
        r = SondeRun.Run("trace", "--pid", "1", "--duration", "soon");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--duration must be a positive duration", r.Stderr);
        r = SondeRun.Run("trace", "--pid", "1", "--frobnicate", "x");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown option '--frobnicate'", r.Stderr);
        r = SondeRun.Run("trace", "--pid", "1", "--calls", "yes");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--calls must be on or off, not 'yes'", r.Stderr);
        r = SondeRun.Run("trace", "--pid", "1", "--breakdown", "off", "--calls", "on");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--calls on needs the breakdown", r.Stderr);
        r = SondeRun.Run("bogus");
        Assert.Equal(2, r.ExitCode);
    }

    [Fact]
    public void Help_explains_every_option()
    {
        var r = SondeRun.Run("trace", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var opt in new[] { "--pid", "--exe", "--duration", "--json", "--out", "--max-routes", "--end-probe", "--ringbuf-mib", "--breakdown", "--calls" })
            Assert.Contains(opt, r.Stdout);
    }

    [RootFact]
    public void No_such_pid()
    {
        var r = SondeRun.Run("trace", "--pid", "999999999");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no such process: pid 999999999", r.Stderr);
    }

    [RootFact]
    public void Not_a_Go_program()
    {
        using var sleeper = Process.Start("sleep", "30");
        try
        {
            var bpf = BpfFootprint.Before();
            var r = SondeRun.Run("trace", "--pid", sleeper.Id.ToString());
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("not a Go program", r.Stderr);
            bpf.NothingLoaded();
        }
        finally { sleeper.Kill(); }
    }

    [RootFact]
    public void Go_program_without_an_HTTP_server()
    {
        string dir = Directory.CreateTempSubdirectory("sonde-nohttp").FullName;
        File.WriteAllText(Path.Combine(dir, "main.go"), "package main\nimport \"time\"\nfunc main() { time.Sleep(time.Minute) }\n");
        var build = new ProcessStartInfo("go", "build -o app .") { WorkingDirectory = dir, RedirectStandardError = true };
        build.Environment["GO111MODULE"] = "off";
        build.Environment["GOFLAGS"] = "";
        build.Environment["GOCACHE"] = Path.Combine(dir, "cache");
        using (var b = Process.Start(build)!) { b.WaitForExit(); Assert.Equal(0, b.ExitCode); }
        using var app = Process.Start(Path.Combine(dir, "app"))!;
        try
        {
            var r = SondeRun.Run("trace", "--pid", app.Id.ToString());
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("has no HTTP or gRPC server symbols", r.Stderr);
        }
        finally
        {
            app.Kill();
            Directory.Delete(dir, true);
        }
    }

    [RootFact]
    public void Unwritable_output_fails_before_attaching()
    {
        using var srv = GoServer.Start("nethttp");
        var bpf = BpfFootprint.Before();
        var r = SondeRun.Run("trace", "--pid", srv.Pid.ToString(), "--out", "/nonexistent-dir/x.sonde");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--out /nonexistent-dir/x.sonde", r.Stderr);
        Assert.DoesNotContain("probes attached", r.Stderr);
        bpf.NothingLoaded();
    }

    [RootFact]
    public void Missing_capabilities_are_named()
    {
        // setpriv (util-linux) drops the capabilities Sonde needs from every set.
        var psi = new ProcessStartInfo("setpriv",
            $"--inh-caps=-all --ambient-caps=-all --bounding-set=-bpf,-perfmon,-sys_admin,-sys_ptrace -- {Repo.Sonde} trace --pid 1")
        { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(1, p.ExitCode);
        Assert.Contains("missing capabilities: CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_PTRACE", err);
    }
}
