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

    private readonly CappedIds<string> _routes = new(Encoding.UTF8.GetString);

    private readonly Dictionary<Sonde.Tracing.Peer, int> _peerIds = new();
    private readonly List<string> _peerLabels = [];

    private readonly CappedIds<(string Address, string Port)> _hosts = new(host => SplitHost(Sonde.Tracing.TracedBytes.Text(host)));

    public ServiceRoutes(int index, string name, CounterSeries overflow, CounterSeries peerOverflow, CounterSeries hostOverflow,
        CounterSeries callsUnfinished)
    {
        CallsUnfinished = callsUnfinished;
        Index = index;
        Name = name;
        Overflow = overflow;
        PeerOverflow = peerOverflow;
        HostOverflow = hostOverflow;
    }

    /// <summary>The service's number in its <see cref="HttpServerMetrics"/>.</summary>
    public int Index { get; }

    public string Name { get; }

    /// <summary>This service's <c>sonde_route_overflow_total</c> series.</summary>
    public CounterSeries Overflow { get; }

    public int Count => _routes.Count;

    /// <summary>The id of <paramref name="route"/> (UTF-8), adding it while fewer than <paramref name="maxRoutes"/> exist.</summary>
    public int Resolve(ReadOnlySpan<byte> route, int maxRoutes) => _routes.Resolve(route, maxRoutes);

    public string Label(int id) => id == Other ? OtherLabel : _routes[id];

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

    /// <summary>This service's <c>sonde_client_calls_unfinished_total</c> series.</summary>
    public CounterSeries CallsUnfinished { get; }

    /// <summary>This service's <c>sonde_host_overflow_total</c> series.</summary>
    public CounterSeries HostOverflow { get; }

    /// <summary>The id of an outgoing call's URL host (UTF-8 "host[:port]"), adding it while fewer than <paramref name="maxHosts"/> exist; else <see cref="Other"/>.</summary>
    public int ResolveHost(ReadOnlySpan<byte> host, int maxHosts) => _hosts.Resolve(host, maxHosts);

    /// <summary>OpenTelemetry's server.address and server.port of a host id: ("other", "") past the cap.</summary>
    public (string Address, string Port) HostLabel(int id) => id == Other ? (OtherLabel, "") : _hosts[id];

    /// <summary>"api:8080" is ("api", "8080"), "[::1]:443" ("::1", "443"), "api" ("api", ""): the port only when the URL names one.</summary>
    internal static (string Address, string Port) SplitHost(string host)
    {
        int colon = host.LastIndexOf(':');
        if (colon > 0 && colon < host.Length - 1 && host.AsSpan(colon + 1).IndexOfAnyExceptInRange('0', '9') < 0
            && (host[0] != '[' || host[colon - 1] == ']'))
            return (host[..colon].Trim('[', ']'), host[(colon + 1)..]);
        return (host.Trim('[', ']'), "");
    }
}
