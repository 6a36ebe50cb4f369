using Microsoft.Extensions.Logging;
using Sonde.Config;
using Sonde.Hosting;
using Sonde.Service;

namespace Sonde.TestHost;

/// <summary>
/// <c>sonde-testhost run [sonde run's options] (--script DIR | --stall-file FILE)</c>:
/// the daemon exactly as <c>sonde run</c> hosts it (the same RunCommand, signals,
/// notify protocol and journal), with one of two pipelines tests need:
/// <list type="bullet">
/// <item><c>--script DIR</c>: <see cref="ScriptedPipeline"/>, which traces nothing and
/// is driven and observed through files in DIR.</item>
/// <item><c>--stall-file FILE</c>: the real pipeline, whose event loop stalls for good
/// at its first batch end once FILE exists, to prove the watchdog restarts it.</item>
/// </list>
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args)
    {
        var rest = new List<string>(args);
        string? script = Take(rest, "--script"), stall = Take(rest, "--stall-file");
        if (rest.FirstOrDefault() != "run" || (script is null) == (stall is null))
        {
            Console.Error.WriteLine("usage: sonde-testhost run [sonde run options] (--script DIR | --stall-file FILE)");
            return Task.FromResult(2);
        }
        if (script is not null && !Directory.Exists(script))
        {
            Console.Error.WriteLine($"sonde-testhost: --script {script}: no such directory");
            return Task.FromResult(2);
        }
        Func<SondeConfig, ILoggerFactory, ISondePipeline> pipeline = script is not null
            ? (_, loggers) => new ScriptedPipeline(Path.GetFullPath(script), loggers)
            : (config, loggers) => new SondeService(config, loggers)
            {
                BatchEnded = () => { if (File.Exists(stall)) Thread.Sleep(Timeout.Infinite); },
            };
        return Sonde.Program.RunAsync(rest.ToArray(), pipeline);
    }

    private static string? Take(List<string> args, string option)
    {
        int i = args.IndexOf(option);
        if (i < 0 || i + 1 >= args.Count) return null;
        string value = args[i + 1];
        args.RemoveRange(i, 2);
        return value;
    }
}
