using Microsoft.Extensions.Logging;
using Sonde.Config;
using Sonde.Tracing;

namespace Sonde.Tests.Config;

/// <summary>Every value is read as documented, and every kind of mistake names its key.</summary>
public sealed class ConfigValidationTests
{
    [Fact]
    public void Every_key_is_read()
    {
        var c = ConfigFile.Parse("""
            // JSONC: comments and trailing commas are fine
            {
              "targets": [
                { "exe": "/opt/**/server", "service": "api", },
                { "process": "shop" },
                { "port": 8080 },
                { "unit": "pay.service" },
                { "pids": [42, 43] },
              ],
              "metrics": { "listen": "0.0.0.0:9500", "path": "/prom", "max_routes_per_service": 250 },
              "otlp": { "enabled": true, "endpoint": "http://collector:4318", "interval": "30s", "timeout": "2s",
                        "headers": { "Authorization": "Bearer t", "X-Tenant": "a" } },
              "tracing": { "ringbuf_mib": 32, "end_probe": "callsite", "breakdown": false, "max_in_flight": 100000, "max_executables": 40 },
              "log": { "level": "warning" },
            }
            """);
        Assert.Equal(5, c.Targets.Count);
        Assert.Equal((TargetKind.Exe, "/opt/**/server", "api"), (c.Targets[0].Kind, c.Targets[0].Exe, c.Targets[0].ServiceName));
        Assert.Equal((TargetKind.Process, "shop", "shop"), (c.Targets[1].Kind, c.Targets[1].Process, c.Targets[1].ServiceName));
        Assert.Equal((TargetKind.Port, 8080, (string?)null), (c.Targets[2].Kind, c.Targets[2].Port, c.Targets[2].ServiceName));
        Assert.Equal((TargetKind.Unit, "pay.service", "pay"), (c.Targets[3].Kind, c.Targets[3].Unit, c.Targets[3].ServiceName));
        Assert.Equal([42, 43], c.Targets[4].Pids!);
        Assert.Equal(("0.0.0.0", 9500, "http://0.0.0.0:9500"), (c.Metrics.ListenHost, c.Metrics.ListenPort, c.Metrics.Url));
        Assert.Equal(("/prom", 250), (c.Metrics.Path, c.Metrics.MaxRoutesPerService));
        Assert.True(c.Otlp.Enabled);
        Assert.Equal(new Uri("http://collector:4318"), c.Otlp.Endpoint);
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2)), (c.Otlp.Interval, c.Otlp.Timeout));
        Assert.Equal("Bearer t", c.Otlp.Headers["authorization"]);
        Assert.Equal("a", c.Otlp.Headers["X-Tenant"]);
        Assert.Equal((32, EndProbeMode.CallSite, false, false), (c.Tracing.RingbufMib, c.Tracing.EndProbe, c.Tracing.Breakdown, c.Tracing.Calls));
        Assert.Equal((100000, 40), (c.Tracing.MaxInFlight, c.Tracing.MaxExecutables));
        Assert.Equal(LogLevel.Warning, c.Log.Level);
    }

    [Theory]
    [InlineData("/usr/bin/shop", "shop")]
    [InlineData("/usr/bin/shop-*", null)]   // a wildcard basename: each process's own name
    [InlineData("/opt/*/bin/api", "api")]
    public void Exe_service_defaults_to_the_basename(string exe, string? service) =>
        Assert.Equal(service, ConfigFile.Parse($$"""{"targets":[{"exe":"{{exe}}"}]}""").Targets[0].ServiceName);

    [Theory]
    [InlineData("shop", "shop.service", "shop")]
    [InlineData("shop.service", "shop.service", "shop")]
    [InlineData("session-3.scope", "session-3.scope", "session-3.scope")]
    [InlineData("app@1.service", "app@1.service", "app@1")]
    public void Unit_names_get_a_suffix_and_a_service_name(string unit, string full, string service)
    {
        var t = ConfigFile.Parse($$"""{"targets":[{"unit":"{{unit}}"}]}""").Targets[0];
        Assert.Equal((full, service), (t.Unit, t.ServiceName));
    }

    [Theory]
    [InlineData("""{"targets":[{"exe":"/a"},{"exe":"/b"},{"port":70000}]}""", "targets[2].port: must be 1..65535, got 70000")]
    [InlineData("""{"targets":[{"port":0}]}""", "targets[0].port: must be 1..65535, got 0")]
    [InlineData("""{"targets":[{"port":"80"}]}""", "targets[0].port: must be a whole number from 1 to 65535, got a string (\"80\")")]
    [InlineData("""{"targets":[{"port":80.5}]}""", "targets[0].port: must be a whole number from 1 to 65535, got 80.5")]
    [InlineData("""{"targets":[{}]}""", "targets[0]: needs one of exe, process, port, unit, pids")]
    [InlineData("""{"targets":[{"exe":"/a","port":1}]}""", "targets[0]: has exe and port: a target selects by exactly one of")]
    [InlineData("""{"targets":[{"service":"x"}]}""", "targets[0]: needs one of")]
    [InlineData("""{"targets":[{"exe":"bin/shop"}]}""", "targets[0].exe: must be an absolute path")]
    [InlineData("""{"targets":[{"exe":"/bin/[ab"}]}""", "targets[0].exe: unclosed '['")]
    [InlineData("""{"targets":[{"process":"a-very-long-process-name"}]}""", "targets[0].process: 'a-very-long-process-name' is 24 characters; the kernel keeps process names to 15")]
    [InlineData("""{"targets":[{"process":"/usr/bin/x"}]}""", "targets[0].process: must be a process name (no '/'")]
    [InlineData("""{"targets":[{"unit":"shop.socket"}]}""", "targets[0].unit: must name a .service or .scope unit")]
    [InlineData("""{"targets":[{"unit":"bad name"}]}""", "targets[0].unit: must be a systemd unit name")]
    [InlineData("""{"targets":[{"pids":[]}]}""", "targets[0].pids: must list at least one process id")]
    [InlineData("""{"targets":[{"pids":[1,-2]}]}""", "targets[0].pids[1]: must be 1..4194304, got -2")]
    [InlineData("""{"targets":[{"pids":[7,7]}]}""", "targets[0].pids[1]: pid 7 is listed twice")]
    [InlineData("""{"targets":[{"pids":5}]}""", "targets[0].pids: must be an array of process ids, got a number (5)")]
    [InlineData("""{"targets":[{"port":1,"service":""}]}""", "targets[0].service: must be 1..128 printable characters")]
    [InlineData("""{"targets":[5]}""", "targets[0]: must be an object like")]
    [InlineData("""{"targets":{"exe":"/a"}}""", "targets: must be an array, got an object")]
    [InlineData("""{"metrics":{"listen":"9464"}}""", "metrics.listen: must be host:port")]
    [InlineData("""{"metrics":{"listen":"127.0.0.1:99999"}}""", "metrics.listen: port must be 1..65535, got '99999'")]
    [InlineData("""{"metrics":{"listen":"::1:9464"}}""", "metrics.listen: an IPv6 address must be in brackets")]
    [InlineData("""{"metrics":{"listen":"example.com:9464"}}""", "metrics.listen: host must be an IP address, localhost or *")]
    [InlineData("""{"metrics":{"path":"metrics"}}""", "metrics.path: must be a URL path starting with '/'")]
    [InlineData("""{"metrics":{"max_routes_per_service":0}}""", "metrics.max_routes_per_service: must be 1..100000, got 0")]
    [InlineData("""{"metrics":{"max_peers_per_service":10001}}""", "metrics.max_peers_per_service: must be 1..10000, got 10001")]
    [InlineData("""{"metrics":"0.0.0.0:1"}""", "metrics: must be an object, got a string")]
    [InlineData("""{"otlp":{"enabled":true}}""", "otlp.endpoint: is required when otlp.enabled is true")]
    [InlineData("""{"otlp":{"enabled":"yes"}}""", "otlp.enabled: must be true or false, got a string (\"yes\")")]
    [InlineData("""{"otlp":{"endpoint":"collector:4318"}}""", "otlp.endpoint: must be an http:// or https:// URL")]
    [InlineData("""{"otlp":{"interval":"fast"}}""", "otlp.interval: must be a duration like 15s, 500ms or 2m, got 'fast'")]
    [InlineData("""{"otlp":{"interval":"2h"}}""", "otlp.interval: must be from 1s to 1h, got '2h'")]
    [InlineData("""{"otlp":{"interval":"10s","timeout":"20s"}}""", "otlp.timeout: must not exceed otlp.interval (10s), got 20s")]
    [InlineData("""{"otlp":{"headers":{"a b":"x"}}}""", "otlp.headers.a b: is not a valid HTTP header name")]
    [InlineData("""{"otlp":{"headers":{"k":1}}}""", "otlp.headers.k: must be a string, got a number (1)")]
    [InlineData("""{"otlp":{"headers":{"K":"1","k":"2"}}}""", "otlp.headers.k: given twice (header names ignore case)")]
    [InlineData("""{"tracing":{"ringbuf_mib":12}}""", "tracing.ringbuf_mib: must be a power of two")]
    [InlineData("""{"tracing":{"ringbuf_mib":2048}}""", "tracing.ringbuf_mib: must be 1..1024, got 2048")]
    [InlineData("""{"tracing":{"max_in_flight":10}}""", "tracing.max_in_flight: must be 64..262144, got 10")]
    [InlineData("""{"tracing":{"max_executables":0}}""", "tracing.max_executables: must be 1..65535, got 0")]
    [InlineData("""{"tracing":{"end_probe":"entry"}}""", "tracing.end_probe: must be auto, callsite or ret, got 'entry'")]
    [InlineData("""{"tracing":{"breakdown":1}}""", "tracing.breakdown: must be true or false, got a number (1)")]
    [InlineData("""{"tracing":{"calls":true,"breakdown":false}}""", "tracing.calls: true needs tracing.breakdown true: the calls ride in the breakdown's records")]
    [InlineData("""{"tracing":{"calls":"on"}}""", "tracing.calls: must be true or false, got a string (\"on\")")]
    [InlineData("""{"log":{"level":"verbose"}}""", "log.level: must be trace, debug, information, warning, error, critical or none, got 'verbose'")]
    public void Each_mistake_names_its_key_and_the_problem(string json, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.Parse(json));
        Assert.StartsWith(expected, e.Message);
    }

    [Theory]
    [InlineData("""{"metrics":{"lisen":"x"}}""", "metrics.lisen: unknown key (did you mean 'listen'? keys here: listen, path, max_routes_per_service, max_peers_per_service)")]
    [InlineData("""{"target":[]}""", "target: unknown key (did you mean 'targets'? sections here: targets, metrics, otlp, tracing, log)")]
    [InlineData("""{"watchdog":{"sec":30}}""", "watchdog: unknown key (sections here:")]
    [InlineData("""{"targets":[{"port":1,"name":"x"}]}""", "targets[0].name: unknown key (keys here: exe, process, port, unit, pids, service)")]
    [InlineData("""{"tracing":{"ringbuf":8}}""", "tracing.ringbuf: unknown key (keys here:")]
    [InlineData("""{"otlp":{"header":{}}}""", "otlp.header: unknown key (did you mean 'headers'?")]
    public void Unknown_keys_are_rejected_with_their_path(string json, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.Parse(json));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void A_key_given_twice_is_an_error() =>
        Assert.Equal("metrics.listen: given twice",
            Assert.Throws<ConfigException>(() => ConfigFile.Parse("""{"metrics":{"listen":"127.0.0.1:1","listen":"127.0.0.1:2"}}""")).Message);

    [Fact]
    public void Syntax_errors_give_line_and_column()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.Parse("{\n  \"metrics\": {\n    \"listen\" \"x\"\n  }\n}"));
        Assert.StartsWith("line 3, column ", e.Message);
        Assert.DoesNotContain("LineNumber", e.Message);
        e = Assert.Throws<ConfigException>(() => ConfigFile.Parse("[1, 2]"));
        Assert.Equal("the file must hold one JSON object, not an array", e.Message);
    }

    /// <summary>A YAML file given as the configuration: one line that says so, not the file quoted back.</summary>
    [Fact]
    public void A_YAML_file_gets_one_line_naming_the_problem()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.Parse("targets:\n  - exe: /usr/bin/shop\n    service: shop\nmetrics: {}\n"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith("line 1, column ", e.Message);
        Assert.Contains("'targets:...'", e.Message);
        Assert.EndsWith("(the configuration is JSON, not YAML)", e.Message);
    }

    [Fact]
    public void Null_means_the_default()
    {
        var c = ConfigFile.Parse("""{"metrics": null, "otlp": {"endpoint": null}, "targets": [{"port": 1, "service": null}]}""");
        Assert.Equal(new MetricsConfig(), c.Metrics);
        Assert.Null(c.Otlp.Endpoint);
        Assert.Null(c.Targets[0].Service);
    }

    [Fact]
    public void File_problems_are_config_errors()
    {
        string dir = Directory.CreateTempSubdirectory("sonde-config").FullName;
        try
        {
            var env = new Dictionary<string, string>();
            Assert.Equal("no such file", Assert.Throws<ConfigException>(() => ConfigFile.Load(Path.Combine(dir, "none.json"), env)).Message);
            Assert.Equal("is a directory, not a file", Assert.Throws<ConfigException>(() => ConfigFile.Load(dir, env)).Message);
            string big = Path.Combine(dir, "big.json");
            File.WriteAllText(big, "{" + new string(' ', 2 << 20) + "}");
            Assert.Contains("a config file is at most", Assert.Throws<ConfigException>(() => ConfigFile.Load(big, env)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
