using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sonde.Cli;
using Sonde.Config;

namespace Sonde.Hosting;

/// <summary>
/// `sonde run`: the long-running daemon, on the .NET Generic Host, made for
/// systemd (Type=notify, watchdog, reload on SIGHUP, journal logging) and
/// equally runnable from a shell.
/// </summary>
public static class RunCommand
{
    /// <summary>
    /// Exit status for a configuration that is missing or invalid at start:
    /// EX_CONFIG from sysexits.h. The unit's RestartPreventExitStatus=78 keeps
    /// systemd from restarting a daemon that cannot start until someone edits
    /// the file.
    /// </summary>
    public const int ExitConfigError = 78;

    /// <summary>How long a graceful stop may take; below the unit's TimeoutStopSec=30s.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(25);

    public const string Help = """
        Usage: sonde run [--config FILE]

        Runs Sonde as a daemon: traces the targets the configuration names and
        exports their request-latency histograms (Prometheus endpoint, and OTLP
        when enabled) until SIGTERM or SIGINT. Made to run under systemd
        (packaging/sonde.service): it reports readiness (Type=notify) once the
        targets are attached, shows a status line in `systemctl status`, feeds
        the watchdog (WatchdogSec=) only while its event loop is alive, and logs
        to the journal with structured fields.

          --config FILE   the configuration (default /etc/sonde/sonde.json):
                          JSON with comments allowed; keys, defaults and the
                          SONDE_* environment overrides: `sonde check-config --help`

        Signals: SIGHUP re-reads the configuration (systemctl reload); an
        invalid one is logged and the previous one kept. SIGTERM/SIGINT detach
        every probe and exit 0.

        Exit status: 0 after a clean stop, 1 when the pipeline fails to start
        or stop, 2 on a usage error, 78 when the configuration is missing or
        invalid. Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN for uprobes
        since Linux 6.16, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH: sonde.service
        grants exactly these).

        """;

    private static readonly HashSet<string> Flags = ["--help"];

    /// <summary>
    /// Runs the daemon until it is stopped; the pipeline comes from
    /// <paramref name="pipelineFactory"/>, called once with the starting
    /// configuration and the host's logger factory.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Func<SondeConfig, ILoggerFactory, ISondePipeline> pipelineFactory)
    {
        // SIGHUP's default action is to terminate. Hold it from the first
        // moment; one arriving before the host listens is replayed once ready.
        int earlyReloads = 0;
        using var earlyHangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true;
            Interlocked.Increment(ref earlyReloads);
        });

        var a = new ArgReader(args, Flags);
        if (a.Help) { Console.Out.Write(Help); return 0; }
        string configPath = a.Value("--config") ?? ConfigFile.DefaultPath;
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}' (the config file is given with --config FILE)");
        a.RejectUnknown();

        var environment = ConfigFile.CurrentEnvironment();
        string? journalStream = environment.GetValueOrDefault("JOURNAL_STREAM");
        using var notifier = SystemdNotifier.FromEnvironment();
        SondeConfig config;
        try { config = ConfigFile.Load(configPath, environment); }
        catch (ConfigException e)
        {
            string hint = File.Exists(configPath) ? ""
                : configPath == ConfigFile.DefaultPath
                    ? " (install one, e.g. the packaged /usr/share/doc/sonde/sonde.json, or pass --config FILE)"
                    : " (pass the path of an existing file to --config)";
            StartupError(journalStream, $"{configPath}: {e.Message}{hint}");
            notifier.Notify("STATUS=" + SystemdNotifier.StatusLine($"invalid configuration: {e.Message}") + "\nERRNO=22");
            return ExitConfigError;
        }

        var levels = new LogLevelSwitch(config.Log.Level);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = "sonde" });
        string logOutput = DaemonLogging.Configure(builder.Logging, levels, journalStream);
        // The host logs a failed start again, with a stack trace; PipelineHost
        // has already said why, once, in words.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = StopTimeout);
        builder.Services.AddSingleton(sp => new PipelineHost(config, configPath, () => ConfigFile.Load(configPath, environment),
            pipelineFactory, sp.GetRequiredService<ILoggerFactory>(), notifier,
            WatchdogSettings.FromEnvironment(environment, Environment.ProcessId), levels));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PipelineHost>());
        builder.Services.AddSingleton<IHostLifetime, SignalLifetime>();

        using var host = builder.Build();
        var pipelineHost = host.Services.GetRequiredService<PipelineHost>();
        host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RunCommand).FullName!)
            .LoggingTo(logOutput, ConfigJson.LevelName(config.Log.Level));
        try { await host.StartAsync(); }
        catch (OperationCanceledException) { return 0; }   // stopped while starting; nothing left attached
        catch (Exception e)
        {
            // PipelineHost logs its own failures (and sets ExitCode); anything else is the host's.
            if (pipelineHost.ExitCode == 0) StartupError(journalStream, $"cannot start: {e}");
            return Math.Max(1, pipelineHost.ExitCode);
        }

        earlyHangup.Dispose();
        if (Volatile.Read(ref earlyReloads) > 0) pipelineHost.RequestReload();
        await host.WaitForShutdownAsync();
        return pipelineHost.ExitCode;
    }

    /// <summary>An error before logging is set up: with a syslog priority prefix when stderr is the journal.</summary>
    private static void StartupError(string? journalStream, string message) =>
        Console.Error.WriteLine((JournalStream.IsStderr(journalStream) ? "<3>" : "") + "sonde: " + message);
}
