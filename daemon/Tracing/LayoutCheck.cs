namespace Sonde.Tracing;

/// <summary>
/// The check of an unverified layout (the newest known one, used for a newer
/// Go without DWARF; see <see cref="StructOffsets.IsUnverified"/>): the first
/// <see cref="Requests"/> requests of each process must read sane, an HTTP
/// method token, a path that starts with '/', a status that is 0 (not yet
/// written) or 100–599, and at least one of them a real status, since an
/// HTTP/1 server always writes one. Runs on the consumer loop only.
/// </summary>
public sealed class LayoutCheck
{
    public const int Requests = 8;

    private readonly Dictionary<int, (int Seen, bool AnyStatus)> _byPid = new();

    /// <summary>True once the process's first requests read sane.</summary>
    public bool Passed(int pid) => _byPid.TryGetValue(pid, out var s) && s.Seen >= Requests;

    /// <summary>Checks one request; null while all is well, else what is wrong.</summary>
    public string? Observe(in RequestView r)
    {
        _byPid.TryGetValue(r.Pid, out var s);
        if (s.Seen >= Requests) return null;
        string? problem = null;
        if (!IsToken(r.Method)) problem = $"request {s.Seen + 1} of pid {r.Pid} read method '{Show(r.Method)}'";
        else if (r.Path.IsEmpty || r.Path[0] != (byte)'/') problem = $"request {s.Seen + 1} of pid {r.Pid} read path '{Show(r.Path)}'";
        else if (r.Status != 0 && (r.Status < 100 || r.Status > 599)) problem = $"request {s.Seen + 1} of pid {r.Pid} read status {r.Status}";
        s = (s.Seen + 1, s.AnyStatus || r.Status != 0);
        if (problem is null && s.Seen == Requests && !s.AnyStatus) problem = $"the first {Requests} requests of pid {r.Pid} all read status 0";
        _byPid[r.Pid] = s;
        return problem is null ? null : $"the newest known Go layout does not fit this binary: {problem}";
    }

    // RFC 9110 section 9: a method is a token; real ones are upper-case letters.
    private static bool IsToken(ReadOnlySpan<byte> m)
    {
        if (m.IsEmpty || m.Length > 16) return false;
        foreach (byte b in m)
            if (b < 'A' || b > 'Z') return false;
        return true;
    }

    private static string Show(ReadOnlySpan<byte> bytes) =>
        new(System.Text.Encoding.ASCII.GetString(bytes[..Math.Min(bytes.Length, 32)]).Select(c => c is >= ' ' and < (char)127 ? c : '?').ToArray());
}
