using Sonde.Tests.Support;

namespace Sonde.Tests.Hosting;

/// <summary>
/// The sonde executable these tests were built with: the apphost `dotnet
/// test` copies next to the test assembly (always current), else `make`'s
/// out/sonde.
/// </summary>
public static class BuiltSonde
{
    public static string Path
    {
        get
        {
            string local = System.IO.Path.Combine(AppContext.BaseDirectory, "sonde");
            return File.Exists(local) && File.Exists(local + ".runtimeconfig.json") ? local : Repo.Sonde;
        }
    }

    /// <summary>
    /// sonde-testhost (tests/SondeTestHost), next to the test assembly: `sonde run` as the
    /// product hosts it, with the scripted pipeline (--script DIR) or a stall hook
    /// (--stall-file FILE) that the product does not carry.
    /// </summary>
    public static string TestHostPath => System.IO.Path.Combine(AppContext.BaseDirectory, "sonde-testhost");

    /// <summary>Runs it to completion with extra environment variables.</summary>
    public static CommandResult Run(IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        HostCommand.Run(Path, args, environment);

    public static CommandResult Run(params string[] args) => Run(null, args);
}
