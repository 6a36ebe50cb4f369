using System.Diagnostics;
using System.Net.Sockets;

namespace Sonde.Tests.Support;

/// <summary>
/// A real PostgreSQL (Debian's postgresql package: initdb'd in a temporary
/// directory, run as the postgres user on a free loopback port, trust auth) and
/// a real Redis (redis-server on a Unix socket in the same directory), for the
/// tests whose handlers wait on them. Started once per test class that uses them.
/// </summary>
public sealed class PeerServices : IDisposable
{
    private readonly Process? _postgres, _redis;

    public PeerServices()
    {
        // Under /tmp and short: a Unix socket's path fits in the 40 bytes a peer keeps.
        Dir = Directory.CreateTempSubdirectory("sonde-peers").FullName;
        RedisSocket = Path.Combine(Dir, "redis.sock");
        if (Environment.UserName != "root") return; // the tests that use them are root-only, and skip with that reason
        string bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new InvalidOperationException("no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql package (make deps does)");
        Run("chown", "postgres", Dir);
        string data = Path.Combine(Dir, "pg");
        Run("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", Path.Combine(bin, "initdb"), "-D", data, "--auth=trust", "-U", "postgres", "--no-sync");
        PgPort = FreePort.Next();
        _postgres = Start("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", Path.Combine(bin, "postgres"), "-D", data, "-k", Dir,
            "-p", PgPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off");
        // --hz 100: blocked commands time out within 10 ms of their timeout.
        _redis = Start("redis-server", "--port", "0", "--unixsocket", RedisSocket, "--save", "", "--appendonly", "no", "--hz", "100");
        WaitFor(() => { using var c = new TcpClient(); c.Connect("127.0.0.1", PgPort); }, _postgres, "PostgreSQL on port " + PgPort);
        WaitFor(() =>
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(RedisSocket));
        }, _redis, "redis-server on " + RedisSocket);
    }

    public string Dir { get; }
    public int PgPort { get; }
    public string RedisSocket { get; }

    /// <summary>lib/pq's connection string for the PostgreSQL, over TCP.</summary>
    public string PgDsn => $"host=127.0.0.1 port={PgPort} user=postgres dbname=postgres sslmode=disable";

    /// <summary>How Sonde names the PostgreSQL and the Redis as peers.</summary>
    public string PgPeer => $"127.0.0.1:{PgPort}";
    public string RedisPeer => "unix:" + RedisSocket;

    private static void Run(string file, params string[] args)
    {
        var r = HostCommand.Run(file, args);
        if (r.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({r.ExitCode}): {r.Stderr}");
    }

    private static Process Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void WaitFor(Action connect, Process p, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (p.HasExited) throw new InvalidOperationException($"{what} exited with {p.ExitCode} before accepting connections");
            try { connect(); return; }
            catch (SocketException) { Thread.Sleep(50); }
        }
        throw new TimeoutException(what + " did not accept connections in 30 s");
    }

    public void Dispose()
    {
        foreach (var p in new[] { _postgres, _redis })
        {
            if (p is null) continue;
            // PostgreSQL's fast shutdown is SIGINT; redis-server ends on SIGTERM.
            try { Posix.Kill(p.Id, p == _postgres ? Posix.SIGINT : Posix.SIGTERM); } catch (Exception) { }
            if (!p.WaitForExit(10_000)) p.Kill(entireProcessTree: true);
            p.Dispose();
        }
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}
