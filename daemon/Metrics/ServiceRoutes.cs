using System.Text;

namespace Sonde.Metrics;

/// <summary>
/// The <c>http_route</c> values one service has used, each a small id, capped:
/// once a service has its maximum, a route it has not seen yet resolves to
/// <see cref="Other"/>. Owned by the thread that records (not thread-safe).
/// </summary>
internal sealed class ServiceRoutes
{
    public const int Other = -1;
    public const string OtherLabel = "other";

    private readonly Dictionary<byte[], int> _ids = new(Utf8BytesComparer.Instance);
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _idsBySpan;
    private readonly List<string> _labels = [];

    private readonly Dictionary<Sonde.Tracing.Peer, int> _peerIds = new();
    private readonly List<string> _peerLabels = [];

    public ServiceRoutes(int index, string name, CounterSeries overflow, CounterSeries peerOverflow)
    {
        Index = index;
        Name = name;
        Overflow = overflow;
        PeerOverflow = peerOverflow;
        _idsBySpan = _ids.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>The service's number in its <see cref="HttpServerMetrics"/>.</summary>
    public int Index { get; }

    public string Name { get; }

    /// <summary>This service's <c>sonde_route_overflow_total</c> series.</summary>
    public CounterSeries Overflow { get; }

    public int Count => _labels.Count;

    /// <summary>The id of <paramref name="route"/> (UTF-8), adding it while fewer than <paramref name="maxRoutes"/> exist.</summary>
    public int Resolve(ReadOnlySpan<byte> route, int maxRoutes)
    {
        if (_idsBySpan.TryGetValue(route, out int id)) return id;
        if (_labels.Count >= maxRoutes) return Other;
        id = _labels.Count;
        _ids.Add(route.ToArray(), id);
        _labels.Add(Encoding.UTF8.GetString(route));
        return id;
    }

    public string Label(int id) => id == Other ? OtherLabel : _labels[id];

    /// <summary>This service's <c>sonde_peer_overflow_total</c> series.</summary>
    public CounterSeries PeerOverflow { get; }

    /// <summary>The id of <paramref name="peer"/>, adding it while fewer than <paramref name="maxPeers"/> exist; else <see cref="Other"/>.</summary>
    public int ResolvePeer(in Sonde.Tracing.Peer peer, int maxPeers)
    {
        if (_peerIds.TryGetValue(peer, out int id)) return id;
        if (_peerLabels.Count >= maxPeers) return Other;
        id = _peerLabels.Count;
        _peerIds.Add(peer, id);
        _peerLabels.Add(peer.Name());
        return id;
    }

    public string PeerLabel(int id) => id == Other ? OtherLabel : _peerLabels[id];
}
