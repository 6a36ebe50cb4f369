using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Sonde.Tests.Support;

/// <summary>
/// One of the Go test servers (tests/goservers), started on a free loopback
/// port with its own per-request measurement log. Dispose stops it (SIGTERM).
/// </summary>
public sealed class GoServer : IDisposable
{
    private readonly Process _process;

    private GoServer(Process p, int port, string logPath, string binary)
    {
        _process = p;
        Port = port;
        LogPath = logPath;
        Binary = binary;
    }

    public int Port { get; }
    private bool _tls;
    private readonly List<string> _stderr = [];

    /// <summary>What the server wrote to its standard error so far.</summary>
    public IReadOnlyList<string> StandardError { get { lock (_stderr) return [.. _stderr]; } }

    public int Pid => _process.Id;
    public string LogPath { get; }
    public string Binary { get; }
    /// <summary>https:// when the server was started with -tls.</summary>
    public string BaseUrl => $"{(_tls ? "https" : "http")}://127.0.0.1:{Port}";
    public bool HasExited => _process.HasExited;

    /// <param name="cpu">pin the server to this CPU (taskset), or null.</param>
    /// <param name="extraArgs">more flags for the server; the log flag is only passed to servers that take it.</param>
    /// <param name="port">the port to listen on; a free one when null.</param>
    /// <param name="wrapper">a command that execs the server as its last arguments (it keeps the pid), or null.</param>
    /// <param name="env">more environment variables for the server, or null.</param>
    public static GoServer Start(string name, string? binaryPath = null, int? cpu = null, int? port = null,
        IReadOnlyList<string>? wrapper = null, IReadOnlyDictionary<string, string>? env = null, params string[] extraArgs)
    {
        string bin = binaryPath ?? Repo.GoServer(name);
        int listenPort = port ?? FreePort.Next();
        string log = Path.Combine(Path.GetTempPath(), $"sonde-test-{name.Replace('/', '-')}-{listenPort}.log");
        var command = new List<string>(wrapper ?? []);
        if (cpu is { } c) command.AddRange(["taskset", "-c", c.ToString(CultureInfo.InvariantCulture)]);
        command.Add(bin);
        var psi = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.ArgumentList.Add("-addr"); psi.ArgumentList.Add($"127.0.0.1:{listenPort}");
        if (!Path.GetFileName(name).StartsWith("breakdown", StringComparison.Ordinal)) { psi.ArgumentList.Add("-log"); psi.ArgumentList.Add(log); }
        foreach (var a in extraArgs) psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi };
        var s = new GoServer(p, listenPort, log, bin) { _tls = extraArgs.Contains("-tls") };
        p.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (s._stderr) s._stderr.Add(line); };
        p.Start();
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        s.WaitListening();
        return s;
    }

    private void WaitListening()
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Binary} exited with {_process.ExitCode} before listening");
            try
            {
                using var c = new TcpClient();
                c.Connect("127.0.0.1", Port);
                return;
            }
            catch (SocketException) { Thread.Sleep(20); }
        }
        throw new TimeoutException($"{Binary} did not listen on {Port}");
    }

    /// <summary>Stops the server and returns its own measurements: (path, status, duration ns).</summary>
    /// <summary>One request as the server's handler measured it (tests/goservers/gopath, sondetest).</summary>
    public sealed record Measured(string Path, int Status, long StartNs, long EndNs)
    {
        public long DurationNs => EndNs - StartNs;
    }

    /// <summary>Stops the server, which then writes its log: path, status, duration, start, end (CLOCK_MONOTONIC ns).</summary>
    public IReadOnlyList<Measured> StopAndReadLog()
    {
        Stop();
        var ci = CultureInfo.InvariantCulture;
        var lost = File.ReadLines(LogPath).FirstOrDefault(l => l.StartsWith("lost ", StringComparison.Ordinal));
        if (lost is not null) throw new InvalidOperationException($"the server's log is incomplete: {lost} requests");
        return File.ReadLines(LogPath).Select(l => l.Split(' ')).Where(f => f.Length == 5)
            .Select(f => new Measured(f[0], int.Parse(f[1], ci), long.Parse(f[3], ci), long.Parse(f[4], ci)))
            .ToList();
    }

    public void Stop()
    {
        if (_process.HasExited) return;
        Posix.Kill(_process.Id, Posix.SIGTERM);
        if (!_process.WaitForExit(10_000)) _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGKILL: the process dies wherever it is, requests in flight and all.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        try { Stop(); } catch (InvalidOperationException) { }
        _process.Dispose();
        try { File.Delete(LogPath); } catch (IOException) { }
    }
}
