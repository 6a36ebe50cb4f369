using System.Text.Json;
using Sonde.Tests.Hosting;
using Sonde.Tests.Support;

namespace Sonde.Tests.Config;

/// <summary>`sonde check-config` as users run it: the built executable, in a child process.</summary>
public sealed class CheckConfigCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sonde-check-config").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string json)
    {
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Valid_config_exits_0_and_prints_the_effective_config()
    {
        var r = BuiltSonde.Run("check-config", Write("""{ "targets": [ { "port": 8080 } ], /* c */ "log": { "level": "debug" } }"""));
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(8080, doc.RootElement.GetProperty("targets")[0].GetProperty("port").GetInt32());
        Assert.Equal("debug", doc.RootElement.GetProperty("log").GetProperty("level").GetString());
        Assert.Equal("127.0.0.1:9464", doc.RootElement.GetProperty("metrics").GetProperty("listen").GetString());
        Assert.Equal("15s", doc.RootElement.GetProperty("otlp").GetProperty("interval").GetString());
        Assert.Contains("valid", r.Stderr);
    }

    [Fact]
    public void Environment_overrides_apply_and_errors_name_the_variable()
    {
        string path = Write("""{ "targets": [ { "port": 8080 } ] }""");
        var r = BuiltSonde.Run(new Dictionary<string, string> { ["SONDE_METRICS__LISTEN"] = "0.0.0.0:9500" }, "check-config", path);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("\"listen\": \"0.0.0.0:9500\"", r.Stdout);
        r = BuiltSonde.Run(new Dictionary<string, string> { ["SONDE_TARGETS__0__PORT"] = "http" }, "check-config", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("targets[0].port: must be a whole number from 1 to 65535, got 'http' (set by SONDE_TARGETS__0__PORT)", r.Stderr);
    }

    [Fact]
    public void The_packaged_config_passes()
    {
        var r = BuiltSonde.Run("check-config", Path.Combine(Repo.Root, "packaging", "sonde.json"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("no targets", r.Stderr);
    }

    [Fact]
    public void Invalid_config_exits_1_and_names_the_key()
    {
        string path = Write("""{"targets":[{"exe":"/a"},{"exe":"/b"},{"port":70000}]}""");
        var r = BuiltSonde.Run("check-config", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"sonde: {path}: targets[2].port: must be 1..65535, got 70000", r.Stderr.Trim());
        Assert.Equal("", r.Stdout);

        r = BuiltSonde.Run("check-config", Path.Combine(_dir, "missing.json"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("missing.json: no such file", r.Stderr);
    }

    [Fact]
    public void Usage_errors_exit_2_and_help_lists_every_key()
    {
        Assert.Equal(2, BuiltSonde.Run("check-config", "a.json", "b.json").ExitCode);
        Assert.Equal(2, BuiltSonde.Run("check-config", "--frobnicate").ExitCode);
        var help = BuiltSonde.Run("check-config", "--help");
        Assert.Equal(0, help.ExitCode);
        foreach (var key in new[] { "exe", "process", "port", "unit", "pids", "service", "metrics.listen", "metrics.path",
                     "max_routes_per_service", "max_peers_per_service", "otlp.enabled", "otlp.endpoint", "otlp.interval", "otlp.timeout", "otlp.headers",
                     "tracing.ringbuf_mib", "tracing.end_probe", "tracing.breakdown", "tracing.max_in_flight", "tracing.max_executables", "log.level", "SONDE_METRICS__LISTEN" })
            Assert.Contains(key, help.Stdout);
    }
}
