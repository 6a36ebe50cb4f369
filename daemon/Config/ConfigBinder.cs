using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Sonde.Cli;
using Sonde.Tracing;

namespace Sonde.Config;

/// <summary>
/// Turns the parsed tree into a <see cref="SondeConfig"/>, checking every key
/// as it goes. Values that came from an environment variable are text, so for
/// them (and only them) numbers and booleans are parsed from strings.
/// </summary>
internal sealed class ConfigBinder(Dictionary<JsonNode, string> fromEnvironment)
{
    private static readonly string[] TargetKeys = ["exe", "process", "port", "unit", "pids"];

    // The kernel keeps a process name (comm) in TASK_COMM_LEN = 16 bytes, NUL included.
    private const int MaxCommLength = 15;
    // PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h): 4 * 1024 * 1024.
    private const int MaxPid = 4 * 1024 * 1024;

    public static string Child(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    public SondeConfig Bind(JsonObject root)
    {
        Known(root, "", EnvironmentOverrides.Sections);
        var config = new SondeConfig();
        if (Optional<JsonArray>(root, "targets", "") is { } targets)
            config = config with { Targets = targets.Select((t, i) => Target(t, $"targets[{i}]")).ToList() };
        if (Section(root, "metrics") is { } m) config = config with { Metrics = Metrics(m, "metrics") };
        if (Section(root, "otlp") is { } o) config = config with { Otlp = Otlp(o, "otlp") };
        if (Section(root, "tracing") is { } t) config = config with { Tracing = Tracing(t, "tracing") };
        if (Section(root, "log") is { } l) config = config with { Log = Log(l, "log") };
        return config;
    }

    private TargetSelector Target(JsonNode? node, string path)
    {
        if (node is not JsonObject o) throw Error(path, node, $"must be an object like {{\"exe\": \"/usr/bin/shop\"}}, got {Describe(node)}");
        Known(o, path, [.. TargetKeys, "service"]);
        var given = TargetKeys.Where(k => o[k] is not null).ToList();
        if (given.Count != 1)
            throw new ConfigException(path, given.Count == 0
                ? "needs one of exe, process, port, unit, pids"
                : $"has {string.Join(" and ", given)}: a target selects by exactly one of exe, process, port, unit, pids");
        string service = Child(path, "service");
        string? serviceName = String(o, "service", path);
        if (serviceName is not null && (serviceName.Length is 0 or > 128 || serviceName.Any(char.IsControl)))
            throw Error(service, o["service"], $"must be 1..128 printable characters, got '{serviceName}'");

        string key = given[0], at = Child(path, key);
        switch (key)
        {
            case "exe":
                string exe = String(o, key, path)!;
                if (!exe.StartsWith('/')) throw Error(at, o[key], $"must be an absolute path (a glob like /usr/bin/shop*), got '{exe}'");
                try { PathGlob.Parse(exe); }
                catch (ArgumentException e) { throw Error(at, o[key], e.Message); }
                return new TargetSelector { Kind = TargetKind.Exe, Exe = exe, Service = serviceName };
            case "process":
                string process = String(o, key, path)!;
                if (process.Length == 0 || process.Contains('/'))
                    throw Error(at, o[key], $"must be a process name (no '/'; for a path use exe), got '{process}'");
                if (process.Length > MaxCommLength)
                    throw Error(at, o[key], $"'{process}' is {process.Length} characters; the kernel keeps process names to {MaxCommLength} (use exe for longer names)");
                return new TargetSelector { Kind = TargetKind.Process, Process = process, Service = serviceName };
            case "port":
                return new TargetSelector { Kind = TargetKind.Port, Port = (int)Integer(o, key, path, 1, 65535)!, Service = serviceName };
            case "unit":
                string unit = String(o, key, path)!;
                if (unit.Length is 0 or > 255 || unit.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is ':' or '-' or '_' or '.' or '\\' or '@')))
                    throw Error(at, o[key], $"must be a systemd unit name like shop.service, got '{unit}'");
                if (!unit.Contains('.')) unit += ".service";
                if (!unit.EndsWith(".service", StringComparison.Ordinal) && !unit.EndsWith(".scope", StringComparison.Ordinal))
                    throw Error(at, o[key], $"must name a .service or .scope unit (the ones that run processes), got '{unit}'");
                return new TargetSelector { Kind = TargetKind.Unit, Unit = unit, Service = serviceName };
            default:
                if (o[key] is not JsonArray list) throw Error(at, o[key], $"must be an array of process ids, got {Describe(o[key])}");
                if (list.Count == 0) throw Error(at, list, "must list at least one process id");
                var pids = new List<int>();
                for (int i = 0; i < list.Count; i++)
                {
                    int pid = (int)IntegerValue(list[i], $"{at}[{i}]", 1, MaxPid);
                    if (pids.Contains(pid)) throw Error($"{at}[{i}]", list[i], $"pid {pid} is listed twice");
                    pids.Add(pid);
                }
                return new TargetSelector { Kind = TargetKind.Pids, Pids = pids, Service = serviceName };
        }
    }

    private MetricsConfig Metrics(JsonObject o, string path)
    {
        Known(o, path, "listen", "path", "max_routes_per_service", "max_peers_per_service");
        var m = new MetricsConfig();
        if (String(o, "listen", path) is { } listen)
        {
            if (MetricsConfig.TryParseListen(listen, out var problem) is null) throw Error(Child(path, "listen"), o["listen"], problem);
            m = m with { Listen = listen };
        }
        if (String(o, "path", path) is { } p)
        {
            if (!p.StartsWith('/') || p.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '?' or '#'))
                throw Error(Child(path, "path"), o["path"], $"must be a URL path starting with '/', got '{p}'");
            m = m with { Path = p };
        }
        if (Integer(o, "max_routes_per_service", path, 1, 100_000) is { } max) m = m with { MaxRoutesPerService = (int)max };
        if (Integer(o, "max_peers_per_service", path, 1, 10_000) is { } peers) m = m with { MaxPeersPerService = (int)peers };
        return m;
    }

    private OtlpConfig Otlp(JsonObject o, string path)
    {
        Known(o, path, "enabled", "endpoint", "interval", "timeout", "headers");
        var c = new OtlpConfig();
        if (Bool(o, "enabled", path) is { } enabled) c = c with { Enabled = enabled };
        if (String(o, "endpoint", path) is { } endpoint)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
                throw Error(Child(path, "endpoint"), o["endpoint"], $"must be an http:// or https:// URL like http://localhost:4318, got '{endpoint}'");
            c = c with { Endpoint = uri };
        }
        if (Duration(o, "interval", path) is { } interval)
        {
            if (interval < TimeSpan.FromSeconds(1) || interval > TimeSpan.FromHours(1))
                throw Error(Child(path, "interval"), o["interval"], $"must be from 1s to 1h, got '{String(o, "interval", path)}'");
            c = c with { Interval = interval };
        }
        if (Duration(o, "timeout", path) is { } timeout) c = c with { Timeout = timeout };
        if (c.Timeout > c.Interval)
            throw new ConfigException(Child(path, "timeout"), $"must not exceed otlp.interval ({ConfigJson.FormatDuration(c.Interval)}), got {ConfigJson.FormatDuration(c.Timeout)}");
        if (Optional<JsonObject>(o, "headers", path) is { } h)
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, value) in h)
            {
                string at = Child(Child(path, "headers"), name);
                if (name.Length == 0 || name.Any(ch => ch <= ' ' || ch >= 127 || "()<>@,;:\\\"/[]?={}".Contains(ch)))
                    throw new ConfigException(at, "is not a valid HTTP header name");
                if (headers.ContainsKey(name)) throw new ConfigException(at, "given twice (header names ignore case)");
                if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
                    throw Error(at, value, $"must be a string, got {Describe(value)}");
                string text = v.GetValue<string>();
                if (text.Any(ch => ch is '\r' or '\n' or '\0')) throw Error(at, value, "must not contain line breaks");
                headers[name] = text;
            }
            c = c with { Headers = headers };
        }
        if (c.Enabled && c.Endpoint is null) throw new ConfigException(Child(path, "endpoint"), "is required when otlp.enabled is true");
        return c;
    }

    private TracingConfig Tracing(JsonObject o, string path)
    {
        Known(o, path, "ringbuf_mib", "end_probe", "breakdown", "calls", "max_in_flight", "max_executables");
        var t = new TracingConfig();
        if (Integer(o, "ringbuf_mib", path, 1, 1024) is { } mib)
        {
            if ((mib & (mib - 1)) != 0) throw Error(Child(path, "ringbuf_mib"), o["ringbuf_mib"], $"must be a power of two (1, 2, 4 ... 1024), got {mib}");
            t = t with { RingbufMib = (int)mib };
        }
        if (String(o, "end_probe", path) is { } end)
        {
            t = t with
            {
                EndProbe = end switch
                {
                    "auto" => EndProbeMode.Auto,
                    "callsite" => EndProbeMode.CallSite,
                    "ret" => EndProbeMode.Ret,
                    _ => throw Error(Child(path, "end_probe"), o["end_probe"], $"must be auto, callsite or ret, got '{end}'"),
                },
            };
        }
        if (Bool(o, "breakdown", path) is { } breakdown) t = t with { Breakdown = breakdown };
        if (Bool(o, "calls", path) is { } calls) t = t with { Calls = calls };
        if (t.Calls && !t.Breakdown) throw new ConfigException(Child(path, "calls"), "true needs tracing.breakdown true: the calls ride in the breakdown's records");
        if (Integer(o, "max_in_flight", path, 64, 1 << 18) is { } inflight) t = t with { MaxInFlight = (int)inflight };
        if (Integer(o, "max_executables", path, 1, ushort.MaxValue) is { } exes) t = t with { MaxExecutables = (int)exes };
        return t;
    }

    private LogConfig Log(JsonObject o, string path)
    {
        Known(o, path, "level");
        if (String(o, "level", path) is not { } level) return new LogConfig();
        return new LogConfig
        {
            Level = level.ToLowerInvariant() switch
            {
                "trace" => LogLevel.Trace,
                "debug" => LogLevel.Debug,
                "information" => LogLevel.Information,
                "warning" => LogLevel.Warning,
                "error" => LogLevel.Error,
                "critical" => LogLevel.Critical,
                "none" => LogLevel.None,
                _ => throw Error(Child(path, "level"), o["level"], $"must be trace, debug, information, warning, error, critical or none, got '{level}'"),
            },
        };
    }

    // ---- typed reads: null when the key is absent or null ----

    private JsonObject? Section(JsonObject root, string key) => Optional<JsonObject>(root, key, "");

    private T? Optional<T>(JsonObject o, string key, string path) where T : JsonNode
    {
        var node = o[key];
        if (node is null) return null;
        if (node is T t) return t;
        string want = typeof(T) == typeof(JsonArray) ? "an array" : "an object";
        throw Error(Child(path, key), node, $"must be {want}, got {Describe(node)}");
    }

    private string? String(JsonObject o, string key, string path)
    {
        var node = o[key];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>();
        throw Error(Child(path, key), node, $"must be a string, got {Describe(node)}");
    }

    private long? Integer(JsonObject o, string key, string path, long min, long max) =>
        o[key] is null ? null : IntegerValue(o[key], Child(path, key), min, max);

    private long IntegerValue(JsonNode? node, string at, long min, long max)
    {
        long n;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
        {
            if (!v.TryGetValue(out n) && !(v.TryGetValue(out JsonElement e) && e.TryGetInt64(out n)))
                throw Error(at, node, $"must be a whole number from {min} to {max}, got {node.ToJsonString()}");
        }
        else if (node is JsonValue s && s.GetValueKind() == JsonValueKind.String && fromEnvironment.ContainsKey(node))
        {
            if (!long.TryParse(s.GetValue<string>(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n))
                throw Error(at, node, $"must be a whole number from {min} to {max}, got '{s.GetValue<string>()}'");
        }
        else throw Error(at, node, $"must be a whole number from {min} to {max}, got {Describe(node)}");
        if (n < min || n > max) throw Error(at, node, $"must be {min}..{max}, got {n}");
        return n;
    }

    private bool? Bool(JsonObject o, string key, string path)
    {
        var node = o[key];
        if (node is null) return null;
        if (node is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.True: return true;
                case JsonValueKind.False: return false;
                case JsonValueKind.String when fromEnvironment.ContainsKey(node):
                    switch (v.GetValue<string>().ToLowerInvariant())
                    {
                        case "true" or "yes" or "1": return true;
                        case "false" or "no" or "0": return false;
                    }
                    break;
            }
        }
        throw Error(Child(path, key), node, $"must be true or false, got {Describe(node)}");
    }

    private TimeSpan? Duration(JsonObject o, string key, string path)
    {
        if (String(o, key, path) is not { } text) return null;
        try { return ArgReader.ParseDuration(key, text); }
        catch (UsageException) { throw Error(Child(path, key), o[key], $"must be a duration like 15s, 500ms or 2m, got '{text}'"); }
    }

    // ---- errors ----

    private void Known(JsonObject o, string path, params string[] known)
    {
        foreach (var (key, value) in o)
        {
            if (known.Contains(key)) continue;
            string? near = known.MinBy(k => Distance(k, key));
            string hint = near is not null && Distance(near, key) <= 2 ? $"did you mean '{near}'? " : "";
            throw Error(Child(path, key), value, $"unknown key ({hint}{(path.Length == 0 ? "sections" : "keys")} here: {string.Join(", ", known)})");
        }
    }

    private ConfigException Error(string at, JsonNode? node, string problem) =>
        new(at, node is not null && fromEnvironment.TryGetValue(node, out var variable) ? $"{problem} (set by {variable})" : problem);

    private static string Describe(JsonNode? node)
    {
        if (node is null) return "null";
        string kind = ConfigFile.Kind(node.GetValueKind());
        if (node is JsonObject or JsonArray) return kind;
        string json = node.ToJsonString();
        return $"{kind} ({(json.Length > 40 ? json[..40] + "..." : json)})";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
