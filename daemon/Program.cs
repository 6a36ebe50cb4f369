using Sonde.Cli;
using Sonde.Hosting;
using Sonde.Tracing;

namespace Sonde;

/// <summary>The `sonde` command: dispatches to its subcommands.</summary>
public static class Program
{
    public const string Help = """
        Usage: sonde COMMAND [options]

        Sonde traces Go HTTP services with eBPF, without changing them: every
        request's latency, by route, with no restart.

        Commands:
          trace     capture the requests of running Go services (sonde trace --help)
          report    summarise a capture file written by `sonde trace --out`
          run       run as a daemon (systemd service): trace the configured
                    targets and export their histograms (sonde run --help)
          check-config  validate a `sonde run` configuration file
          version   print the version

        """;

    public static Task<int> Main(string[] args) => RunAsync(args, (config, loggers) => new Sonde.Service.SondeService(config, loggers));

    /// <summary>
    /// The command line, with `sonde run`'s pipeline from <paramref name="runPipeline"/>
    /// (another host of the daemon, such as the tests' sonde-testhost, brings its own).
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Func<Sonde.Config.SondeConfig, Microsoft.Extensions.Logging.ILoggerFactory, ISondePipeline> runPipeline)
    {
        try
        {
            return args.FirstOrDefault() switch
            {
                null or "help" or "--help" or "-h" => PrintHelp(),
                "trace" => await TraceCommand.RunAsync(args[1..]),
                "report" => ReportCommand.Run(args[1..]),
                "run" => await RunCommand.RunAsync(args[1..], runPipeline),
                "check-config" => CheckConfigCommand.Run(args[1..]),
                "version" or "--version" => PrintVersion(),
                var c => throw new UsageException($"unknown command '{c}' (try sonde --help)"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"sonde: {e.Message}");
            return 2;
        }
        catch (TraceException e)
        {
            Console.Error.WriteLine($"sonde: {OneLine(e.Message)}");
            return 1;
        }
        catch (Exception e) when (e is Sonde.GoBinary.GoBinaryException or Sonde.Interop.Libbpf.BpfException
            or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // A binary that can't be read, a kernel that refuses, a file that vanished:
            // the problem in one line, as every other error.
            Console.Error.WriteLine($"sonde: {OneLine(e.Message)}");
            if (Debug) Console.Error.WriteLine(e);
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"sonde: internal error: {e.GetType().Name}: {OneLine(e.Message)}" +
                (Debug ? "" : " (SONDE_DEBUG=1 prints where)"));
            if (Debug) Console.Error.WriteLine(e);
            return 70;   // EX_SOFTWARE (sysexits.h)
        }
    }

    private static bool Debug => Environment.GetEnvironmentVariable("SONDE_DEBUG") is "1" or "true";

    /// <summary>A message on one line: what a kernel or a library said over several is joined.</summary>
    private static string OneLine(string message) =>
        string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static int PrintHelp()
    {
        Console.Out.Write(Help);
        return 0;
    }

    private static int PrintVersion()
    {
        Console.Out.WriteLine($"sonde {typeof(Program).Assembly.GetName().Version?.ToString(3)}");
        return 0;
    }
}
