using Sonde.Cli;
using Sonde.Config;

namespace Sonde.Hosting;

/// <summary>`sonde check-config [FILE]`: validates a configuration without starting anything.</summary>
public static class CheckConfigCommand
{
    public const string Help = """
        Usage: sonde check-config [FILE]

        Validates the configuration of `sonde run` (default /etc/sonde/sonde.json)
        with the SONDE_* variables of this environment applied, starts nothing,
        and prints the effective configuration — every default filled in — as
        JSON on stdout. Exit status: 0 if valid, 1 if not (stderr names the key
        and the problem, e.g. `targets[2].port: must be 1..65535, got 70000`),
        2 on a usage error.

        The file is JSON; // and /* */ comments and trailing commas are allowed.
        Unknown keys are errors. Keys and defaults:

          targets                      [] — each entry has exactly one of:
            exe      "/usr/bin/shop*"  executables matching this absolute path glob
                                       (* ? [a-z] within a segment, ** across)
            process  "shop"            processes with this name (comm, <= 15 chars)
            port     8080              the process listening on this TCP port
            unit     "shop.service"    the processes of this systemd unit
            pids     [4242, 4243]      these processes
            service  "shop"            optional metrics label; default: the exe
                                       basename, unit name or process name, else
                                       each process's executable basename
          metrics.listen               "127.0.0.1:9464"  (IPv4, [IPv6], localhost or *)
          metrics.path                 "/metrics"
          metrics.max_routes_per_service  100
          metrics.max_peers_per_service   32   (peer and called-host label values; the rest are "other")
          otlp.enabled                 false
          otlp.endpoint                none; required when enabled (http:// or https://)
          otlp.interval                "15s"  (1s..1h)
          otlp.timeout                 "5s"   (at most the interval)
          otlp.headers                 {}     (header name -> value)
          tracing.ringbuf_mib          8      (power of two, 1..1024)
          tracing.end_probe            "auto" (auto, callsite or ret)
          tracing.breakdown            true
          tracing.calls                false  (outgoing HTTP calls, with the breakdown)
          tracing.max_in_flight        16384  (64..262144; more are counted lost)
          tracing.max_executables      1024   (1..65535 traced at the same time)
          log.level                    "information" (trace, debug, information,
                                       warning, error, critical, none)
        The systemd watchdog is not configured here: WatchdogSec= in the unit.

        Environment overrides: SONDE_ + the key's path in capitals, levels joined
        by __, array entries by index:
          SONDE_METRICS__LISTEN=0.0.0.0:9464   SONDE_LOG__LEVEL=debug
          SONDE_TARGETS__0__PORT=8080          SONDE_OTLP__ENABLED=true
          SONDE_OTLP__HEADERS__X_API_KEY=k     (header x-api-key: under headers, _ is -)
          SONDE_TARGETS='[{"unit":"shop"}]'    (a value starting with [ or { is JSON)
        An empty value removes the key (its default applies).

        """;

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, new HashSet<string> { "--help" });
        if (a.Help) { Console.Out.Write(Help); return 0; }
        a.RejectUnknown();
        if (a.Positional.Count > 1) throw new UsageException($"check-config takes one FILE, not {a.Positional.Count}");
        string path = a.Positional.Count == 1 ? a.Positional[0] : ConfigFile.DefaultPath;
        SondeConfig config;
        try { config = ConfigFile.Load(path); }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"sonde: {path}: {e.Message}");
            return 1;
        }
        Console.Error.WriteLine($"sonde: {path}: valid; effective configuration:");
        if (config.Targets.Count == 0)
            Console.Error.WriteLine("sonde: warning: no targets: `sonde run` would start and trace nothing until a reload adds some");
        Console.Out.Write(ConfigJson.Write(config));
        return 0;
    }
}
