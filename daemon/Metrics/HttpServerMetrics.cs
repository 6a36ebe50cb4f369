using Sonde.Tracing;

namespace Sonde.Metrics;

/// <summary>
/// Turns completed requests into <c>http_server_request_duration_seconds</c>
/// (OpenTelemetry's <c>http.server.request.duration</c>), with labels
/// <c>service</c>, <c>http_request_method</c>, <c>http_route</c> and
/// <c>http_response_status_code</c>; and gRPC calls into
/// <c>rpc_server_call_duration_seconds</c> (OpenTelemetry's
/// <c>rpc.server.call.duration</c>, semantic-conventions v1.44.0) with
/// <c>service</c>, <c>rpc_system_name="grpc"</c>, <c>rpc_method</c> (the full
/// method, "grpc.health.v1.Health/Check", capped per service like routes),
/// <c>rpc_response_status_code</c> ("OK", "NOT_FOUND"; "" when the call ended
/// without a status) and <c>error_type</c> (the code, for server errors only).
/// </summary>
/// <remarks>
/// <para>
/// <c>http_route</c> is the route template when the router reported one,
/// else the raw path; each service keeps at most
/// <see cref="MaxRoutesPerService"/> distinct values and records further ones
/// as <c>other</c>, counting each such request in
/// <c>sonde_route_overflow_total{service}</c>. Unknown methods are
/// <c>_OTHER</c>; an unknown status (0, HTTP/2) is the empty label value,
/// which Prometheus treats as no label and OTLP export leaves out.
/// </para>
/// <para>
/// <see cref="Record"/> is the consumer loop's hot path: for a label set seen
/// before it allocates nothing and never waits on a scrape or an export: the
/// service by reference (then by name), the route through a span-keyed
/// dictionary, the series through a struct-keyed cache, then one
/// <see cref="HistogramSeries.Observe"/>. Call it from one thread at a time (the ring
/// buffer consumer); scrapes and exports read concurrently through the
/// registry. Later per-request families (time by cause, syscalls) can share
/// the same service and route resolution.
/// </para>
/// </remarks>
public sealed class HttpServerMetrics
{
    public const string DurationName = "http_server_request_duration_seconds";
    public const string RpcDurationName = "rpc_server_call_duration_seconds";
    public const string ClientDurationName = "http_client_request_duration_seconds";

    private static readonly OtlpNaming s_clientOtlp = new("http.client.request.duration", "s",
        ["service", "http.request.method", "server.address", "server.port", "http.response.status_code", "error.type"]);

    private static readonly OtlpNaming s_rpcOtlp = new("rpc.server.call.duration", "s",
        ["service", "rpc.system.name", "rpc.method", "rpc.response.status_code", "error.type"]);

    private static readonly OtlpNaming s_durationOtlp = new("http.server.request.duration", "s",
        ["service", "http.request.method", "http.route", "http.response.status_code"]);

    private readonly Dictionary<string, ServiceRoutes> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<SeriesKey, HistogramSeries> _series = [];
    private readonly string?[] _statusLabels = new string?[1000];
    private readonly int _cacheLimit;
    private string? _lastServiceName;
    private ServiceRoutes? _lastService;
    private volatile int _maxRoutesPerService;

    public HttpServerMetrics(MetricsRegistry registry, HttpServerMetricsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        options ??= new HttpServerMetricsOptions();
        MaxRoutesPerService = options.MaxRoutesPerService;
        Duration = registry.AddHistogram(DurationName,
            "Duration of HTTP requests served by the traced Go services, from the entry of net/http's serverHandler.ServeHTTP to its return.",
            options.Histogram, ["service", "http_request_method", "http_route", "http_response_status_code"],
            maxSeries: options.MaxSeries, otlp: s_durationOtlp);
        RouteOverflow = registry.AddCounter("sonde_route_overflow",
            "Requests recorded with http_route=\"other\" because their service already had the maximum number of distinct routes.",
            ["service"]);
        _cacheLimit = 2 * Duration.MaxSeries + 64;
        RpcDuration = registry.AddHistogram(RpcDurationName,
            "Duration of gRPC calls served by the traced Go services (grpc-go), from the entry of (*Server).handleStream to its return.",
            options.Histogram, ["service", "rpc_system_name", "rpc_method", "rpc_response_status_code", "error_type"],
            maxSeries: options.MaxSeries, otlp: s_rpcOtlp);
        TimeByCategory = registry.AddHistogram("sonde_request_time_seconds",
            "Where each request's time went: the time one request spent in each category (on_cpu, runnable, net_io, syscall, lock, chan, sleep, gc, other, stolen); the categories of a request sum to its duration.",
            options.Histogram, ["service", "http_route", "category"], maxSeries: options.MaxSeries);
        Syscalls = registry.AddCounter("sonde_request_syscalls",
            "Syscalls made by the traced services' threads while running a request's goroutine, by route and syscall.",
            ["service", "http_route", "syscall"], maxSeries: options.MaxSeries);
        SyscallTime = registry.AddCounter("sonde_request_syscall_seconds",
            "Time in those syscalls, by route and syscall.",
            ["service", "http_route", "syscall"], unit: "seconds", valueDivisor: 1_000_000_000, maxSeries: options.MaxSeries);
        PeerWaits = registry.AddCounter("sonde_request_peer_waits",
            "Times a request's goroutine parked in the netpoller waiting on a socket, by route and the socket's peer " +
            "(\"10.0.0.5:5432\", \"unix:/run/x.sock\", \"udp:127.0.0.53:53\"; \"client\": a connection the service accepted).",
            ["service", "http_route", "peer"], maxSeries: options.MaxSeries);
        PeerWaitTime = registry.AddCounter("sonde_request_peer_wait_seconds",
            "Time of those waits (part of the requests' net_io), by route and peer.",
            ["service", "http_route", "peer"], unit: "seconds", valueDivisor: 1_000_000_000, maxSeries: options.MaxSeries);
        PeerOverflow = registry.AddCounter("sonde_peer_overflow",
            "Waits recorded with peer=\"other\" because their service already had the maximum number of distinct peers.",
            ["service"]);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxPeersPerService);
        MaxPeersPerService = options.MaxPeersPerService;
        ClientDuration = registry.AddHistogram(ClientDurationName,
            "Duration of the outgoing HTTP calls the traced services made with net/http's client while serving a request, from the round trip's start " +
            "to the response's head (OpenTelemetry's http.client.request.duration); server_address and server_port are the URL's.",
            options.Histogram, ["service", "http_request_method", "server_address", "server_port", "http_response_status_code", "error_type"],
            maxSeries: options.MaxSeries, otlp: s_clientOtlp);
        HostOverflow = registry.AddCounter("sonde_host_overflow",
            "Outgoing calls recorded with server_address=\"other\" because their service already had the maximum number of distinct hosts (max_peers_per_service).",
            ["service"]);
        CallsUnfinished = registry.AddCounter("sonde_client_calls_unfinished",
            "Outgoing calls whose round trip had not returned when their request ended (left running by a handler that returned), not in " + ClientDurationName + ".",
            ["service"]);
    }

    /// <summary><c>http_client_request_duration_seconds{service, http_request_method, server_address, server_port, http_response_status_code, error_type}</c>.</summary>
    public HistogramFamily ClientDuration { get; }

    /// <summary><c>sonde_host_overflow_total{service}</c>.</summary>
    public CounterFamily HostOverflow { get; }

    /// <summary><c>sonde_client_calls_unfinished_total{service}</c>.</summary>
    public CounterFamily CallsUnfinished { get; }

    private readonly Dictionary<(int Service, int Host, int Method, int Status), HistogramSeries> _clientSeries = new();

    /// <summary>
    /// A request's outgoing calls, by host (capped per service like peers), method and
    /// status; a failed call has status -1 (error_type "_OTHER"), a status of 400 or more
    /// is its own error_type, as OpenTelemetry's HTTP client conventions say.
    /// </summary>
    private void RecordCalls(ServiceRoutes routes, in RequestView request)
    {
        foreach (ref readonly var c in request.Calls)
        {
            if (!c.Done)
            {
                routes.CallsUnfinished.Increment();
                continue;
            }
            int host = routes.ResolveHost(c.Host, MaxPeersPerService);
            if (host == ServiceRoutes.Other) routes.HostOverflow.Increment();
            int status = c.Failed ? -1 : c.Status;
            var key = (routes.Index, host, HttpMethodLabel.Index(c.Method), status);
            if (!_clientSeries.TryGetValue(key, out var series))
            {
                var (address, port) = routes.HostLabel(host);
                string code = status > 0 ? StatusLabel(status) : "";
                series = ClientDuration.WithLabels(routes.Name, HttpMethodLabel.Labels[key.Item3], address, port, code,
                    status < 0 ? "_OTHER" : status >= 400 ? code : "");
                if (!ClientDuration.IsOverflow(series) || _clientSeries.Count < _cacheLimit) _clientSeries[key] = series;
            }
            series.Observe(c.HeadNs);
        }
    }

    /// <summary><c>sonde_request_peer_waits_total{service, http_route, peer}</c>.</summary>
    public CounterFamily PeerWaits { get; }

    /// <summary><c>sonde_request_peer_wait_seconds_total{service, http_route, peer}</c>.</summary>
    public CounterFamily PeerWaitTime { get; }

    /// <summary><c>sonde_peer_overflow_total{service}</c>.</summary>
    public CounterFamily PeerOverflow { get; }

    /// <summary>Peers kept per service.</summary>
    public int MaxPeersPerService { get; }

    private readonly Dictionary<(int Service, int Route, int Peer), (CounterSeries Count, CounterSeries Ns)> _peerSeries = new();

    /// <summary><c>sonde_request_time_seconds{service, http_route, category}</c>: the breakdown, per request.</summary>
    public HistogramFamily TimeByCategory { get; }

    /// <summary><c>sonde_request_syscalls_total{service, http_route, syscall}</c>.</summary>
    public CounterFamily Syscalls { get; }

    /// <summary><c>sonde_request_syscall_seconds_total{service, http_route, syscall}</c>.</summary>
    public CounterFamily SyscallTime { get; }

    private readonly Dictionary<(int Service, int Route, int Category), HistogramSeries> _categorySeries = new();
    private readonly Dictionary<(int Service, int Route, uint Nr), (CounterSeries Count, CounterSeries Ns)> _syscallSeries = new();

    /// <summary>The breakdown and syscalls of a request, on the series of its service and route.</summary>
    private void RecordBreakdown(ServiceRoutes routes, int route, in RequestView request)
    {
        var b = request.BreakdownNs;
        for (int c = 0; c < b.Length && c < BreakdownCategories.Count; c++)
        {
            var key = (routes.Index, route, c);
            if (!_categorySeries.TryGetValue(key, out var series))
            {
                series = TimeByCategory.WithLabels(routes.Name, routes.Label(route), BreakdownCategories.Names[c]);
                if (_categorySeries.Count < _cacheLimit) _categorySeries[key] = series;
            }
            series.Observe(b[c]);
        }
        foreach (var sc in request.Syscalls)
        {
            var key = (routes.Index, route, sc.Nr);
            if (!_syscallSeries.TryGetValue(key, out var pair))
            {
                string name = SyscallNames.Name(sc.Nr), label = routes.Label(route);
                pair = (Syscalls.WithLabels(routes.Name, label, name), SyscallTime.WithLabels(routes.Name, label, name));
                if (_syscallSeries.Count < _cacheLimit) _syscallSeries[key] = pair;
            }
            pair.Count.Add(sc.Count);
            pair.Ns.Add((long)sc.Ns);
        }
        foreach (ref readonly var w in request.Peers)
        {
            int peer = routes.ResolvePeer(w.Peer, MaxPeersPerService);
            if (peer == ServiceRoutes.Other) routes.PeerOverflow.Add(w.Count);
            var key = (routes.Index, route, peer);
            if (!_peerSeries.TryGetValue(key, out var pair))
            {
                string label = routes.Label(route), name = routes.PeerLabel(peer);
                pair = (PeerWaits.WithLabels(routes.Name, label, name), PeerWaitTime.WithLabels(routes.Name, label, name));
                if (_peerSeries.Count < _cacheLimit) _peerSeries[key] = pair;
            }
            pair.Count.Add(w.Count);
            pair.Ns.Add((long)w.Ns);
        }
        if (!request.Calls.IsEmpty) RecordCalls(routes, request);
    }

    public HistogramFamily Duration { get; }

    /// <summary><c>rpc_server_call_duration_seconds{service, rpc_system_name, rpc_method, rpc_response_status_code, error_type}</c>.</summary>
    public HistogramFamily RpcDuration { get; }

    private readonly Dictionary<(int Service, int Route, int Code), HistogramSeries> _rpcSeries = [];
    /// <summary><c>sonde_route_overflow_total{service}</c>.</summary>
    public CounterFamily RouteOverflow { get; }

    /// <summary>Routes kept per service; a change applies to routes not seen yet (a reload keeps the histograms).</summary>
    public int MaxRoutesPerService
    {
        get => _maxRoutesPerService;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _maxRoutesPerService = value;
        }
    }

    /// <summary>Records one completed request of <paramref name="service"/>.</summary>
    public void Record(string service, in RequestView request)
    {
        ArgumentNullException.ThrowIfNull(service);
        var routes = ReferenceEquals(service, _lastServiceName) ? _lastService! : Service(service);
        int route = routes.Resolve(request.Route.IsEmpty ? request.Path : request.Route, _maxRoutesPerService);
        if (route == ServiceRoutes.Other) routes.Overflow.Increment();
        if (request.IsGrpc)
        {
            RecordRpc(routes, route, request);
            return;
        }
        int method = HttpMethodLabel.Index(request.Method);
        var key = new SeriesKey(routes.Index, method, route, request.Status);
        if (!_series.TryGetValue(key, out var series)) series = Resolve(key, routes);
        series.Observe(request.DurationNs);
        if (!request.BreakdownNs.IsEmpty) RecordBreakdown(routes, route, request);
    }

    private void RecordRpc(ServiceRoutes routes, int route, in RequestView request)
    {
        int code = request.GrpcStatus >= 0 ? request.GrpcStatus : -1;
        var key = (routes.Index, route, code);
        if (!_rpcSeries.TryGetValue(key, out var series))
        {
            string method = routes.Label(route);
            if (method.StartsWith('/')) method = method[1..];
            string status = code < 0 ? "" : Sonde.Aggregation.GrpcCodes.Name(code);
            series = RpcDuration.WithLabels(routes.Name, "grpc", method, status, Sonde.Aggregation.GrpcCodes.IsServerError(code) ? status : "");
            if (!RpcDuration.IsOverflow(series) || _rpcSeries.Count < _cacheLimit) _rpcSeries[key] = series;
        }
        series.Observe(request.DurationNs);
        if (!request.BreakdownNs.IsEmpty) RecordBreakdown(routes, route, request);
    }

    private ServiceRoutes Service(string name)
    {
        if (!_services.TryGetValue(name, out var routes))
        {
            routes = new ServiceRoutes(_services.Count, name, RouteOverflow.WithLabels(name), PeerOverflow.WithLabels(name),
                HostOverflow.WithLabels(name), CallsUnfinished.WithLabels(name));
            _services.Add(name, routes);
        }
        _lastServiceName = name;
        _lastService = routes;
        return routes;
    }

    private HistogramSeries Resolve(SeriesKey key, ServiceRoutes routes)
    {
        var series = Duration.WithLabels(routes.Name, HttpMethodLabel.Labels[key.Method], routes.Label(key.Route), StatusLabel(key.Status));
        // Label sets refused by the family's cap all share its overflow
        // series; remember only so many of them, so the cache stays bounded too.
        if (!Duration.IsOverflow(series) || _series.Count < _cacheLimit) _series[key] = series;
        return series;
    }

    private string StatusLabel(int status)
    {
        if (status == 0) return "";
        if (status is < 0 or >= 1000) return ServiceRoutes.OtherLabel;
        return _statusLabels[status] ??= status.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private readonly record struct SeriesKey(int Service, int Method, int Route, int Status);
}
