using System.Globalization;

namespace Sonde.Discovery;

/// <summary>
/// What /proc says about a process, for matching `sonde run`'s target
/// selectors: its command name, systemd unit and listening TCP ports.
/// Every read tolerates the process vanishing (null / empty).
/// </summary>
public static class ProcessFacts
{
    /// <summary>/proc/PID/comm: the process name (at most 15 bytes).</summary>
    public static string? Comm(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The systemd unit the process runs in (from /proc/PID/cgroup), e.g. "shop.service".</summary>
    public static string? SystemdUnit(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/cgroup"))
            {
                // cgroup v2: "0::/system.slice/shop.service"; v1 lines name a controller.
                var path = line[(line.LastIndexOf(':') + 1)..];
                foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                    if (part.EndsWith(".service", StringComparison.Ordinal) || part.EndsWith(".scope", StringComparison.Ordinal))
                        return part;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>
    /// TCP ports the process listens on: socket inodes in state LISTEN (0A)
    /// from /proc/net/tcp and tcp6, matched against the socket:[inode] links of
    /// /proc/PID/fd.
    /// </summary>
    public static IReadOnlySet<int> ListeningPorts(int pid)
    {
        var ports = new HashSet<int>();
        var byInode = ListeningSockets();
        if (byInode.Count == 0) return ports;
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                string? target;
                try { target = new FileInfo(fd).LinkTarget; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal)) continue;
                if (ulong.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
                    && byInode.TryGetValue(inode, out int port))
                    ports.Add(port);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return ports;
    }

    /// <summary>Listening TCP sockets on the host: inode → local port.</summary>
    public static Dictionary<ulong, int> ListeningSockets()
    {
        var result = new Dictionary<ulong, int>();
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            try
            {
                foreach (var line in File.ReadLines(file).Skip(1))
                {
                    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length < 10 || f[3] != "0A") continue;
                    int colon = f[1].LastIndexOf(':');
                    if (colon < 0) continue;
                    if (int.TryParse(f[1].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int port)
                        && ulong.TryParse(f[9], NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode))
                        result[inode] = port;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return result;
    }
}
