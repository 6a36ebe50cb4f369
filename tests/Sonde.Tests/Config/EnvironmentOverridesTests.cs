using Microsoft.Extensions.Logging;
using Sonde.Config;

namespace Sonde.Tests.Config;

/// <summary>SONDE_* variables over the file: the documented mapping, typed, and named in errors.</summary>
public sealed class EnvironmentOverridesTests
{
    private static SondeConfig Parse(string json, params (string Name, string Value)[] env) =>
        ConfigFile.Parse(json, env.ToDictionary(e => e.Name, e => e.Value));

    [Fact]
    public void Scalars_override_the_file_and_the_defaults()
    {
        var c = Parse("""{"metrics":{"listen":"127.0.0.1:1"}}""",
            ("SONDE_METRICS__LISTEN", "127.0.0.1:9500"),
            ("SONDE_METRICS__MAX_ROUTES_PER_SERVICE", "42"),
            ("SONDE_LOG__LEVEL", "debug"),
            ("SONDE_OTLP__ENABLED", "true"),
            ("SONDE_OTLP__ENDPOINT", "http://c:4318"),
            ("SONDE_OTLP__INTERVAL", "1m"),
            ("SONDE_TRACING__BREAKDOWN", "0"),
            ("SONDE_TRACING__RINGBUF_MIB", "64"));
        Assert.Equal("127.0.0.1:9500", c.Metrics.Listen);
        Assert.Equal(42, c.Metrics.MaxRoutesPerService);
        Assert.Equal(LogLevel.Debug, c.Log.Level);
        Assert.True(c.Otlp.Enabled);
        Assert.Equal(TimeSpan.FromMinutes(1), c.Otlp.Interval);
        Assert.False(c.Tracing.Breakdown);
        Assert.Equal(64, c.Tracing.RingbufMib);
    }

    [Fact]
    public void Array_entries_by_index_modify_or_append()
    {
        var c = Parse("""{"targets":[{"port":8080}]}""",
            ("SONDE_TARGETS__0__SERVICE", "cart"),
            ("SONDE_TARGETS__1__UNIT", "shop"));
        Assert.Equal(2, c.Targets.Count);
        Assert.Equal((8080, "cart"), (c.Targets[0].Port, c.Targets[0].Service));
        Assert.Equal("shop.service", c.Targets[1].Unit);

        var fresh = Parse("", ("SONDE_TARGETS__0__PIDS", "[10, 11]"));
        Assert.Equal([10, 11], fresh.Targets.Single().Pids!);
    }

    [Fact]
    public void A_value_starting_with_a_bracket_is_JSON()
    {
        var c = Parse("""{"targets":[{"port":1}]}""",
            ("SONDE_TARGETS", """[{"unit":"a"},{"exe":"/usr/bin/b"}]"""),
            ("SONDE_OTLP__HEADERS", """{"authorization":"Bearer z"}"""));
        Assert.Equal(["a.service", null], c.Targets.Select(t => t.Unit));
        Assert.Equal("Bearer z", c.Otlp.Headers["authorization"]);
    }

    [Fact]
    public void Header_names_take_dashes_and_match_the_file_ignoring_case()
    {
        var c = Parse("""{"otlp":{"headers":{"X-Api-Key":"old"}}}""",
            ("SONDE_OTLP__HEADERS__X_API_KEY", "new"),
            ("SONDE_OTLP__HEADERS__X_TENANT", "t"));
        Assert.Equal(2, c.Otlp.Headers.Count);
        Assert.Equal("new", c.Otlp.Headers["x-api-key"]);
        Assert.Equal("t", c.Otlp.Headers["x-tenant"]);
    }

    [Fact]
    public void An_empty_value_restores_the_default() =>
        Assert.Equal(MetricsConfig.DefaultListen, Parse("""{"metrics":{"listen":"0.0.0.0:1"}}""", ("SONDE_METRICS__LISTEN", "")).Metrics.Listen);

    [Fact]
    public void Other_SONDE_variables_are_not_config() =>
        Assert.Equal(new SondeConfig(), Parse("", ("SONDE_GOSERVERS", "/x"), ("SONDE", "y"), ("SONDEX__Y", "z"), ("PATH", "/bin")));

    [Theory]
    [InlineData("SONDE_METRICS__LISTEN", "nowhere", "metrics.listen: must be host:port (like 127.0.0.1:9464), got 'nowhere' (set by SONDE_METRICS__LISTEN)")]
    [InlineData("SONDE_TARGETS__0__PORT", "http", "targets[0].port: must be a whole number from 1 to 65535, got 'http' (set by SONDE_TARGETS__0__PORT)")]
    [InlineData("SONDE_TARGETS__0__PORT", "70000", "targets[0].port: must be 1..65535, got 70000 (set by SONDE_TARGETS__0__PORT)")]
    [InlineData("SONDE_OTLP__ENABLED", "maybe", "otlp.enabled: must be true or false, got a string (\"maybe\") (set by SONDE_OTLP__ENABLED)")]
    [InlineData("SONDE_METRICS__LISTN", "x", "metrics.listn: unknown key (did you mean 'listen'?")]
    [InlineData("SONDE_METRIC__LISTEN", "x", "metric: no such section (set by SONDE_METRIC__LISTEN")]
    [InlineData("SONDE_TARGETS__5__PORT", "1", "targets: has 0 entries; SONDE_TARGETS__5__PORT may address entries 0..0")]
    [InlineData("SONDE_TARGETS__PORT", "1", "targets: is an array: SONDE_TARGETS__PORT must address an entry by index")]
    [InlineData("SONDE_METRICS__LISTEN__HOST", "x", "metrics.listen: is a string, so SONDE_METRICS__LISTEN__HOST cannot set a key inside it")]
    [InlineData("SONDE_TARGETS", "[{\"port\": }]", "targets: SONDE_TARGETS is not valid JSON")]
    [InlineData("SONDE_LOG____LEVEL", "debug", "SONDE_LOG____LEVEL: empty segment in the name")]
    public void Errors_name_the_variable(string name, string value, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => Parse("""{"metrics":{"listen":"127.0.0.1:1"}}""", (name, value)));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void Text_is_converted_only_for_values_from_the_environment() =>
        Assert.Throws<ConfigException>(() => Parse("""{"targets":[{"port":"8080"}]}"""));
}
