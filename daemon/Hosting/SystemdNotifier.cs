using System.Net.Sockets;
using System.Text;

namespace Sonde.Hosting;

/// <summary>
/// The client side of systemd's sd_notify protocol, managed: one datagram per
/// message, newline-separated <c>KEY=VALUE</c> assignments, sent to the
/// AF_UNIX socket named by <c>$NOTIFY_SOCKET</c> — a path, or, when it starts
/// with <c>@</c>, a Linux abstract-namespace name (sd_notify(3), "Notes").
/// systemd enables SO_PASSCRED on its end, so the kernel attaches our
/// credentials without an explicit SCM_CREDENTIALS message. Without
/// <c>$NOTIFY_SOCKET</c> (not started by systemd), or with a <c>vsock:</c>
/// address (a VM's manager, not ours), every call is a no-op.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endPoint;
    private readonly object _sendLock = new();

    public SystemdNotifier(string? notifySocket)
    {
        Address = notifySocket;
        if (string.IsNullOrEmpty(notifySocket)) return;
        string path;
        if (notifySocket[0] == '/') path = notifySocket;
        // Abstract namespace: the name is the bytes after a leading NUL, which
        // .NET's UnixDomainSocketEndPoint takes as a leading '\0'.
        else if (notifySocket[0] == '@') path = "\0" + notifySocket[1..];
        else
        {
            UnsupportedReason = $"NOTIFY_SOCKET={notifySocket} is not an AF_UNIX address (path or @name)";
            return;
        }
        _endPoint = new UnixDomainSocketEndPoint(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>From <c>$NOTIFY_SOCKET</c>.</summary>
    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    /// <summary>True when messages go somewhere.</summary>
    public bool IsActive => _socket is not null;

    /// <summary>The <c>$NOTIFY_SOCKET</c> value, or null.</summary>
    public string? Address { get; }

    /// <summary>Why <c>$NOTIFY_SOCKET</c> is set but unused, or null.</summary>
    public string? UnsupportedReason { get; }

    /// <summary>The error of the last failed send, or null.</summary>
    public SocketException? LastError { get; private set; }

    /// <summary>
    /// Sends <paramref name="state"/> (e.g. <c>"READY=1\nSTATUS=..."</c>).
    /// False when inactive or when the send failed (<see cref="LastError"/>);
    /// like sd_notify, callers go on either way.
    /// </summary>
    public bool Notify(string state)
    {
        if (_socket is null) return false;
        byte[] bytes = Encoding.UTF8.GetBytes(state);
        lock (_sendLock)
        {
            try
            {
                _socket.SendTo(bytes, SocketFlags.None, _endPoint!);
                return true;
            }
            catch (SocketException e)
            {
                LastError = e;
                return false;
            }
            catch (ObjectDisposedException) { return false; }
        }
    }

    /// <summary>
    /// A STATUS= value: sd_notify(3) takes a single line, so line breaks
    /// become spaces.
    /// </summary>
    public static string StatusLine(string text) => text.ReplaceLineEndings(" ").Trim();

    public void Dispose() => _socket?.Dispose();
}
