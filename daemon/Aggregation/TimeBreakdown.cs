using Sonde.Tracing;

namespace Sonde.Aggregation;

/// <summary>
/// Where the time of a set of requests went: nanoseconds per
/// <see cref="BreakdownCategories"/> category summed over the requests that
/// carried a breakdown, and their syscalls by name.
/// </summary>
public sealed class TimeBreakdown
{
    private readonly ulong[] _ns = new ulong[BreakdownCategories.Count];
    private readonly Dictionary<uint, (long Count, ulong Ns, long Requests)> _syscalls = new();
    private readonly Dictionary<Peer, (long Count, ulong Ns, long Requests)> _peers = new();
    private (long Count, ulong Ns, long Requests) _otherPeers;
    private readonly Dictionary<byte[], (long Count, ulong Ns, long Requests)> _hosts = new(Sonde.Metrics.Utf8BytesComparer.Instance);
    private readonly Dictionary<byte[], (long Count, ulong Ns, long Requests)>.AlternateLookup<ReadOnlySpan<byte>> _hostsBySpan;
    private (long Count, ulong Ns, long Requests) _otherHosts;

    public TimeBreakdown() => _hostsBySpan = _hosts.GetAlternateLookup<ReadOnlySpan<byte>>();

    /// <summary>Distinct peers kept; waits on further ones add up as "other".</summary>
    public const int MaxPeers = 256;

    /// <summary>Requests that carried a breakdown.</summary>
    public long Requests { get; private set; }

    public ReadOnlySpan<ulong> TotalNs => _ns;

    /// <summary>Mean nanoseconds per request in <paramref name="category"/>.</summary>
    public double MeanNs(int category) => Requests == 0 ? 0 : (double)_ns[category] / Requests;

    /// <summary>Syscalls by total time, largest first: (name, calls, total ns, requests that made any).</summary>
    public IReadOnlyList<(string Name, long Count, ulong Ns, long Requests)> Syscalls() =>
        _syscalls.OrderByDescending(s => s.Value.Ns).ThenBy(s => s.Key)
            .Select(s => (SyscallNames.Name(s.Key), s.Value.Count, s.Value.Ns, s.Value.Requests)).ToList();

    /// <summary>
    /// The peers the requests waited on in the netpoller, by total time, largest
    /// first: (name, waits, total ns, requests that waited on it); past
    /// <see cref="MaxPeers"/> distinct ones, the rest as "other".
    /// </summary>
    public IReadOnlyList<(string Name, long Count, ulong Ns, long Requests)> Peers() =>
        Ranked(_peers.Select(p => (p.Key.Name(), p.Value.Count, p.Value.Ns, p.Value.Requests)), _otherPeers);

    /// <summary>
    /// The hosts the requests called (outgoing HTTP calls), by total time to their
    /// responses' heads, largest first: (host, calls, total ns, requests that called
    /// it); past <see cref="MaxPeers"/> distinct ones, the rest as "other".
    /// </summary>
    public IReadOnlyList<(string Name, long Count, ulong Ns, long Requests)> Hosts() =>
        Ranked(_hosts.Select(h => (TracedBytes.Text(h.Key), h.Value.Count, h.Value.Ns, h.Value.Requests)), _otherHosts);

    /// <summary>Named totals and what folded into "other" (when anything did), by total time, largest first, then by name.</summary>
    private static List<(string Name, long Count, ulong Ns, long Requests)> Ranked(
        IEnumerable<(string Name, long Count, ulong Ns, long Requests)> named, (long Count, ulong Ns, long Requests) other)
    {
        var list = named.ToList();
        if (other.Count > 0) list.Add(("other", other.Count, other.Ns, other.Requests));
        return list.OrderByDescending(p => p.Ns).ThenBy(p => p.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>Adds one request; no allocation unless it brings a syscall, peer or host this set hasn't seen.</summary>
    public void Add(ReadOnlySpan<ulong> breakdownNs, ReadOnlySpan<SyscallStat> syscalls, ReadOnlySpan<PeerWait> peers = default,
        ReadOnlySpan<HttpCall> calls = default)
    {
        if (breakdownNs.IsEmpty) return;
        Requests++;
        for (int i = 0; i < _ns.Length && i < breakdownNs.Length; i++) _ns[i] += breakdownNs[i];
        foreach (var s in syscalls)
        {
            _syscalls.TryGetValue(s.Nr, out var t);
            _syscalls[s.Nr] = (t.Count + s.Count, t.Ns + s.Ns, t.Requests + 1);
        }
        bool other = false;
        foreach (ref readonly var w in peers)
        {
            if (_peers.TryGetValue(w.Peer, out var t) || _peers.Count < MaxPeers)
                _peers[w.Peer] = (t.Count + w.Count, t.Ns + w.Ns, t.Requests + 1);
            else
            {
                _otherPeers = (_otherPeers.Count + w.Count, _otherPeers.Ns + w.Ns, _otherPeers.Requests + (other ? 0 : 1));
                other = true;
            }
        }
        for (int i = 0; i < calls.Length; i++)
        {
            ref readonly var c = ref calls[i];
            var host = c.Host;
            ulong ns = c.Done ? c.HeadNs : 0;
            // A request counts once per host, however many calls it made to it.
            bool again = false;
            for (int j = 0; j < i && !again; j++) again = calls[j].Host.SequenceEqual(host);
            if (_hostsBySpan.TryGetValue(host, out var t))
                _hostsBySpan[host] = (t.Count + 1, t.Ns + ns, t.Requests + (again ? 0 : 1));
            else if (_hosts.Count < MaxPeers)
                _hosts[host.ToArray()] = (1, ns, 1);
            else
                _otherHosts = (_otherHosts.Count + 1, _otherHosts.Ns + ns, _otherHosts.Requests + (again ? 0 : 1));
        }
    }
}
