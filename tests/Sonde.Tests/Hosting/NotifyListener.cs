using System.Net.Sockets;
using System.Text;

namespace Sonde.Tests.Hosting;

/// <summary>
/// Plays systemd's side of sd_notify: a datagram socket at an abstract
/// address (or a path) that records every message, with the time it came.
/// </summary>
public sealed class NotifyListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly List<(string Message, long AtMs)> _messages = new();
    private readonly Thread _reader;

    public NotifyListener(string? path = null)
    {
        Address = path ?? $"@sonde-test-notify-{Guid.NewGuid():N}";
        _socket.Bind(new UnixDomainSocketEndPoint(Address[0] == '@' ? "\0" + Address[1..] : Address));
        _reader = new Thread(Read) { IsBackground = true };
        _reader.Start();
    }

    /// <summary>The NOTIFY_SOCKET value that reaches this listener.</summary>
    public string Address { get; }

    public IReadOnlyList<string> Messages { get { lock (_messages) return _messages.Select(m => m.Message).ToList(); } }

    public IReadOnlyList<(string Message, long AtMs)> Timed { get { lock (_messages) return _messages.ToList(); } }

    /// <summary>Waits until some message satisfies <paramref name="match"/>; returns it.</summary>
    public string WaitFor(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            lock (_messages)
            {
                foreach (var (m, _) in _messages) if (match(m)) return m;
                Monitor.Wait(_messages, 50);
            }
        }
        throw new TimeoutException("no matching notification; got:\n" + string.Join("\n---\n", Messages));
    }

    private void Read()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = _socket.Receive(buffer);
                lock (_messages)
                {
                    _messages.Add((Encoding.UTF8.GetString(buffer, 0, n), Environment.TickCount64));
                    Monitor.PulseAll(_messages);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    public void Dispose()
    {
        _socket.Dispose();
        if (Address[0] == '/') File.Delete(Address);
    }
}
