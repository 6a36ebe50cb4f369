using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sonde.Tracing;

namespace Sonde.Config;

/// <summary>
/// Writes a <see cref="SondeConfig"/> as the JSON `sonde check-config` prints:
/// every key, defaults included, in the file's own format, so the output is
/// itself a valid config file. A target's <c>service</c> shows its effective
/// name, or is absent when the pipeline derives it per process.
/// </summary>
public static class ConfigJson
{
    public static string Write(SondeConfig c)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("targets");
            foreach (var t in c.Targets)
            {
                w.WriteStartObject();
                switch (t.Kind)
                {
                    case TargetKind.Exe: w.WriteString("exe", t.Exe); break;
                    case TargetKind.Process: w.WriteString("process", t.Process); break;
                    case TargetKind.Port: w.WriteNumber("port", t.Port!.Value); break;
                    case TargetKind.Unit: w.WriteString("unit", t.Unit); break;
                    case TargetKind.Pids:
                        w.WriteStartArray("pids");
                        foreach (int p in t.Pids!) w.WriteNumberValue(p);
                        w.WriteEndArray();
                        break;
                }
                if (t.ServiceName is { } s) w.WriteString("service", s);
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartObject("metrics");
            w.WriteString("listen", c.Metrics.Listen);
            w.WriteString("path", c.Metrics.Path);
            w.WriteNumber("max_routes_per_service", c.Metrics.MaxRoutesPerService);
            w.WriteNumber("max_peers_per_service", c.Metrics.MaxPeersPerService);
            w.WriteEndObject();

            w.WriteStartObject("otlp");
            w.WriteBoolean("enabled", c.Otlp.Enabled);
            if (c.Otlp.Endpoint is { } e) w.WriteString("endpoint", e.OriginalString); else w.WriteNull("endpoint");
            w.WriteString("interval", FormatDuration(c.Otlp.Interval));
            w.WriteString("timeout", FormatDuration(c.Otlp.Timeout));
            w.WriteStartObject("headers");
            foreach (var (k, v) in c.Otlp.Headers) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();

            w.WriteStartObject("tracing");
            w.WriteNumber("ringbuf_mib", c.Tracing.RingbufMib);
            w.WriteString("end_probe", c.Tracing.EndProbe switch { EndProbeMode.CallSite => "callsite", EndProbeMode.Ret => "ret", _ => "auto" });
            w.WriteBoolean("breakdown", c.Tracing.Breakdown);
            w.WriteBoolean("calls", c.Tracing.Calls);
            w.WriteNumber("max_in_flight", c.Tracing.MaxInFlight);
            w.WriteNumber("max_executables", c.Tracing.MaxExecutables);
            w.WriteEndObject();

            w.WriteStartObject("log");
            w.WriteString("level", LevelName(c.Log.Level));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    public static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "information",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        LogLevel.Critical => "critical",
        _ => "none",
    };

    /// <summary>"15s", "500ms", "2m", "1h": the shortest unit that says it exactly.</summary>
    public static string FormatDuration(TimeSpan d)
    {
        double ms = d.TotalMilliseconds;
        if (ms % 1000 != 0) return ms.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
        long s = (long)d.TotalSeconds;
        return s % 3600 == 0 ? $"{s / 3600}h" : s % 60 == 0 ? $"{s / 60}m" : $"{s}s";
    }
}
