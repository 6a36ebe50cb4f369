using Microsoft.Extensions.Logging;
using Sonde.Config;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Config;

/// <summary>Every key's default, from an empty file, from {}, and from the packaged sonde.json.</summary>
public sealed class ConfigDefaultsTests
{
    public static TheoryData<string> EmptyConfigs => new() { "", "  \n", "{}", "// nothing but a comment\n{ /* and another */ }", "{\"metrics\": {}, \"otlp\": {}, \"tracing\": {}, \"log\": {}, \"targets\": []}" };

    [Theory]
    [MemberData(nameof(EmptyConfigs))]
    public void Every_key_has_its_documented_default(string json)
    {
        var c = ConfigFile.Parse(json);
        Assert.Empty(c.Targets);
        Assert.Equal("127.0.0.1:9464", c.Metrics.Listen);
        Assert.Equal("127.0.0.1", c.Metrics.ListenHost);
        Assert.Equal(9464, c.Metrics.ListenPort);
        Assert.Equal("/metrics", c.Metrics.Path);
        Assert.Equal(100, c.Metrics.MaxRoutesPerService);
        Assert.False(c.Otlp.Enabled);
        Assert.Null(c.Otlp.Endpoint);
        Assert.Equal(TimeSpan.FromSeconds(15), c.Otlp.Interval);
        Assert.Equal(TimeSpan.FromSeconds(5), c.Otlp.Timeout);
        Assert.Empty(c.Otlp.Headers);
        Assert.Equal(8, c.Tracing.RingbufMib);
        Assert.Equal(EndProbeMode.Auto, c.Tracing.EndProbe);
        Assert.True(c.Tracing.Breakdown);
        Assert.Equal(LogLevel.Information, c.Log.Level);
        Assert.Equal(new SondeConfig(), c);
    }

    [Fact]
    public void The_packaged_config_is_valid_and_states_the_defaults()
    {
        var packaged = ConfigFile.Load(Path.Combine(Repo.Root, "packaging", "sonde.json"), new Dictionary<string, string>());
        Assert.Equal(new SondeConfig(), packaged);
    }

    [Fact]
    public void Effective_config_is_itself_a_valid_config_that_reads_back_the_same()
    {
        var c = ConfigFile.Parse("""
            {
              "targets": [ { "exe": "/usr/bin/shop*" }, { "unit": "pay" }, { "port": 8080, "service": "cart" }, { "pids": [3, 4] }, { "process": "api" } ],
              "metrics": { "listen": "[::1]:9500", "path": "/m", "max_routes_per_service": 7 },
              "otlp": { "enabled": true, "endpoint": "https://otel:4318", "interval": "1m", "timeout": "500ms", "headers": { "authorization": "Bearer x" } },
              "tracing": { "ringbuf_mib": 16, "end_probe": "ret", "breakdown": true, "calls": true },
              "log": { "level": "debug" }
            }
            """);
        string json = ConfigJson.Write(c);
        var again = ConfigFile.Parse(json);
        Assert.Equal(json, ConfigJson.Write(again));
        Assert.Equal(c.Metrics, again.Metrics);
        Assert.Equal(c.Otlp, again.Otlp);
        Assert.Equal(c.Tracing, again.Tracing);
        Assert.Equal(c.Log, again.Log);
        // A service name left to its default is written out as that default.
        Assert.Equal([null, "pay", "cart", null, "api"], again.Targets.Select(t => t.ServiceName));
        Assert.Contains("\"interval\": \"1m\"", json);
        Assert.Contains("\"timeout\": \"500ms\"", json);
    }
}
