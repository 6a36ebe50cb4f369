using System.Net.Sockets;
using System.Text;

namespace Sonde.Hosting;

/// <summary>
/// Where journal entries go: journald's native socket
/// (<c>/run/systemd/journal/socket</c>, one datagram per entry) when it can be
/// reached, else stderr — the journal's stream socket — with a syslog
/// priority prefix (<c>&lt;3&gt;</c>) on every line, which journald parses
/// (SyslogLevelPrefix= defaults to on). An entry the socket refuses (too big
/// for one datagram: EMSGSIZE; journald gone) falls back to stderr too.
/// Entries larger than a datagram would need a sealed memfd passed with
/// SCM_RIGHTS, a libc call Sonde does not make.
/// </summary>
internal sealed class JournalOutput : IDisposable
{
    public const string NativeSocketPath = "/run/systemd/journal/socket";

    private readonly object _lock = new();
    private readonly Stream _stderr;
    private readonly string _socketPath;
    private Socket? _socket;

    private JournalOutput(Socket? socket, string socketPath, Stream stderr)
    {
        _socket = socket;
        _socketPath = socketPath;
        _stderr = stderr;
    }

    /// <summary>True while entries go over the native protocol.</summary>
    public bool IsNative => _socket is not null;

    /// <summary>Connects to journald's native socket, or settles for prefixed stderr.</summary>
    public static JournalOutput Open(Stream stderr, string socketPath = NativeSocketPath) =>
        new(TryConnect(socketPath), socketPath, stderr);

    public void Write(JournalEntry entry, int priority, string message)
    {
        lock (_lock)
        {
            if (_socket is not null)
            {
                try
                {
                    _socket.Send(entry.Datagram.Span);
                    return;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.NotConnected or SocketError.Shutdown)
                {
                    // journald restarted: its socket is new. Reconnect once.
                    _socket.Dispose();
                    _socket = TryConnect(_socketPath);
                    try
                    {
                        if (_socket is not null) { _socket.Send(entry.Datagram.Span); return; }
                    }
                    catch (SocketException) { }
                }
                catch (SocketException) { }   // EMSGSIZE, a send timeout: this entry goes to stderr
                catch (ObjectDisposedException) { return; }
            }
            WritePrefixed(priority, message);
        }
    }

    private void WritePrefixed(int priority, string message)
    {
        var sb = new StringBuilder(message.Length + 16);
        foreach (var line in message.ReplaceLineEndings("\n").Split('\n'))
            sb.Append('<').Append((char)('0' + priority)).Append('>').Append(line).Append('\n');
        try
        {
            _stderr.Write(Encoding.UTF8.GetBytes(sb.ToString()));
            _stderr.Flush();
        }
        catch (IOException) { }
    }

    private static Socket? TryConnect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(path));
            // The protocol doc suggests a large send buffer, to put off blocking
            // when journald lags; the kernel caps it at net.core.wmem_max.
            try { s.SendBufferSize = 8 << 20; } catch (SocketException) { }
            // Never let a stuck journald hang the daemon: after 1 s the entry goes to stderr.
            s.SendTimeout = 1000;
            return s;
        }
        catch (SocketException)
        {
            s.Dispose();
            return null;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _socket?.Dispose();
            _socket = null;
        }
    }
}
