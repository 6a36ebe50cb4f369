using System.Diagnostics;
using System.Text;

namespace Sonde.Tests.Support;

/// <summary>
/// The real `out/sonde` executable run as a child process, its stdout and
/// stderr collected. For `trace`, <see cref="WaitAttached"/> blocks until it
/// reports its probes attached.
/// </summary>
public sealed class SondeRun : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new(), _err = new();
    private readonly TaskCompletionSource _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SondeRun(Process p) => _p = p;

    public static SondeRun Start(params string[] args)
    {
        var psi = new ProcessStartInfo(Repo.Sonde) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi };
        var run = new SondeRun(p);
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (run._out) run._out.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (run._err) run._err.AppendLine(e.Data);
            if (e.Data.Contains("probes attached")) run._attached.TrySetResult();
        };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return run;
    }

    /// <summary>Runs sonde to completion (for commands that end by themselves).</summary>
    public static SondeRun Run(params string[] args)
    {
        var r = Start(args);
        if (!r._p.WaitForExit(60_000)) { r._p.Kill(); throw new TimeoutException("sonde " + string.Join(' ', args) + " did not finish"); }
        r._p.WaitForExit();
        return r;
    }

    public int Pid => _p.Id;
    public string Stdout { get { lock (_out) return _out.ToString(); } }
    public string Stderr { get { lock (_err) return _err.ToString(); } }
    public int ExitCode => _p.ExitCode;

    public void WaitAttached(TimeSpan? timeout = null)
    {
        var t = timeout ?? TimeSpan.FromSeconds(30);
        var done = Task.WhenAny(_attached.Task, Task.Run(() => _p.WaitForExit((int)t.TotalMilliseconds))).Result;
        if (!_attached.Task.IsCompleted)
            throw new InvalidOperationException($"sonde did not attach (exited: {_p.HasExited}); stderr:\n{Stderr}");
    }

    /// <summary>Sends SIGINT (like Ctrl-C) and waits for a clean exit.</summary>
    public int Interrupt()
    {
        Posix.Kill(_p.Id, Posix.SIGINT);
        if (!_p.WaitForExit(30_000)) { _p.Kill(); throw new TimeoutException("sonde did not exit after SIGINT; stderr:\n" + Stderr); }
        _p.WaitForExit();
        return _p.ExitCode;
    }

    /// <summary>Waits for sonde to exit by itself; false if it still runs after <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_p.WaitForExit(timeout)) return false;
        _p.WaitForExit();   // and for its output to be read
        return true;
    }

    public void Dispose()
    {
        if (!_p.HasExited) { _p.Kill(); _p.WaitForExit(); }
        _p.Dispose();
    }
}
