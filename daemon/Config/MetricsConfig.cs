namespace Sonde.Config;

/// <summary>The <c>metrics</c> section: the Prometheus scrape endpoint.</summary>
public sealed record MetricsConfig
{
    public const string DefaultListen = "127.0.0.1:9464";

    /// <summary>
    /// <c>host:port</c> as written: host is an IPv4 literal, a bracketed IPv6
    /// literal (<c>[::1]:9464</c>), <c>localhost</c>, or <c>*</c> (every
    /// interface); port 1..65535. 9464 is the port OpenTelemetry's Prometheus
    /// exporter uses by default.
    /// </summary>
    public string Listen { get; init; } = DefaultListen;

    /// <summary>The host part of <see cref="Listen"/>, without brackets.</summary>
    public string ListenHost => Split(Listen).Host;

    public int ListenPort => Split(Listen).Port;

    /// <summary>Path of the scrape endpoint; starts with <c>/</c>.</summary>
    public string Path { get; init; } = "/metrics";

    /// <summary>Distinct routes kept per service before the rest fold into one <c>other</c> route (bounds label cardinality).</summary>
    public int MaxRoutesPerService { get; init; } = 100;

    /// <summary>Distinct peers (the <c>peer</c> label of the wait metrics), and distinct called hosts (<c>server_address</c> of the client metric), kept per service before the rest fold into <c>other</c>.</summary>
    public int MaxPeersPerService { get; init; } = 32;

    /// <summary>
    /// Splits <c>host:port</c> (see <see cref="Listen"/>); null with the reason
    /// in <paramref name="problem"/> when it isn't one.
    /// </summary>
    public static (string Host, int Port)? TryParseListen(string value, out string problem)
    {
        problem = "";
        int colon = value.LastIndexOf(':');
        if (colon < 0) { problem = $"must be host:port (like 127.0.0.1:9464), got '{value}'"; return null; }
        string host = value[..colon], portText = value[(colon + 1)..];
        if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        { problem = $"port must be 1..65535, got '{portText}'"; return null; }
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
            if (!System.Net.IPAddress.TryParse(host, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            { problem = $"'[{host}]' is not an IPv6 address"; return null; }
            return (host, port);
        }
        if (host is "localhost" or "*") return (host, port);
        if (host.Contains(':')) { problem = $"an IPv6 address must be in brackets, like [::1]:9464, got '{value}'"; return null; }
        if (!System.Net.IPAddress.TryParse(host, out var v4) || v4.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || host.Count(c => c == '.') != 3)
        { problem = $"host must be an IP address, localhost or *, got '{host}'"; return null; }
        return (host, port);
    }

    private static (string Host, int Port) Split(string listen) =>
        TryParseListen(listen, out var problem) ?? throw new ConfigException("metrics.listen", problem);

    /// <summary>A Kestrel URL for <see cref="Listen"/>: <c>http://127.0.0.1:9464</c>, <c>http://[::1]:9464</c>, <c>http://*:9464</c>.</summary>
    public string Url => ListenHost.Contains(':') ? $"http://[{ListenHost}]:{ListenPort}" : $"http://{ListenHost}:{ListenPort}";
}
