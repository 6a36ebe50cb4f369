using System.Text.RegularExpressions;
using Sonde.Tests.Hosting;
using Sonde.Tests.Support;

namespace Sonde.Tests.Packaging;

/// <summary>
/// The package `make deb` built (out/sonde_VERSION_amd64.deb; SONDE_DEB
/// overrides), and the host commands the package tests run on it.
/// </summary>
public static class DebianPackage
{
    /// <summary>The version in Directory.Build.props: the one place it is set.</summary>
    public static string Version { get; } = Regex.Match(File.ReadAllText(Path.Combine(Repo.Root, "Directory.Build.props")),
        "<Version>([^<]+)</Version>").Groups[1].Value;

    public static string DebPath => Environment.GetEnvironmentVariable("SONDE_DEB") is { Length: > 0 } p
        ? p : Path.Combine(Repo.Root, "out", $"sonde_{Version}_amd64.deb");

    /// <summary>Why a package test cannot run here, or null.</summary>
    public static string? Missing()
    {
        if (!File.Exists(DebPath)) return $"no package at {DebPath}: `make deb` builds it (`make test` does)";
        if (!File.Exists("/usr/bin/dpkg-deb")) return "needs dpkg-deb";
        return null;
    }

    /// <summary>Runs a command on the host, waiting at most two minutes.</summary>
    public static CommandResult Host(string file, params string[] args) =>
        HostCommand.Run(file, args, new Dictionary<string, string> { ["LC_ALL"] = "C.UTF-8" }, timeout: TimeSpan.FromMinutes(2));

    /// <summary>
    /// A copy of the package with another version (and optionally another
    /// default config): what a newer build is to dpkg's upgrade logic.
    /// </summary>
    public static string Rebuild(string directory, string version, Func<string, string>? editConfig = null)
    {
        string tree = Path.Combine(directory, "tree-" + version);
        Check(Host("/usr/bin/dpkg-deb", "-R", DebPath, tree));
        string control = Path.Combine(tree, "DEBIAN", "control");
        File.WriteAllText(control, Regex.Replace(File.ReadAllText(control), @"(?m)^Version: .*$", "Version: " + version));
        if (editConfig is not null)
        {
            string config = Path.Combine(tree, "etc", "sonde", "sonde.json");
            File.WriteAllText(config, editConfig(File.ReadAllText(config)));
            // md5sums lists it: keep the package consistent.
            string sums = Path.Combine(tree, "DEBIAN", "md5sums");
            string md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(config)));
            File.WriteAllText(sums, Regex.Replace(File.ReadAllText(sums), @"(?m)^[0-9a-f]{32}(?=  etc/sonde/sonde\.json$)", md5));
        }
        string deb = Path.Combine(directory, $"sonde_{version}_amd64.deb");
        Check(Host("/usr/bin/dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, deb));
        return deb;
    }

    public static void Check(CommandResult r)
    {
        if (r.ExitCode != 0) throw new InvalidOperationException($"exit {r.ExitCode}:\n{r.Stdout}\n{r.Stderr}");
    }
}

/// <summary>A test of the built package: skipped, with the reason, when there is none.</summary>
public sealed class PackageFactAttribute : FactAttribute
{
    public PackageFactAttribute() => Skip = DebianPackage.Missing();
}

/// <summary>A test that installs the package in a real systemd (<see cref="SystemdNamespace"/>).</summary>
public sealed class PackageSystemdFactAttribute : FactAttribute
{
    public PackageSystemdFactAttribute() => Skip = SystemdFactAttribute.Missing() ?? DebianPackage.Missing();
}
