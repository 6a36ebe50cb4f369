using System.Text.RegularExpressions;
using Sonde.Tests.Support;

namespace Sonde.Tests.Packaging;

/// <summary>What the .deb contains and what lintian says of it.</summary>
public sealed class DebianPackageContentTests
{

    [PackageFact]
    public void Holds_the_executable_unit_config_man_page_and_license()
    {
        var listing = DebianPackage.Host("/usr/bin/dpkg-deb", "-c", DebianPackage.DebPath);
        Assert.Equal(0, listing.ExitCode);
        var files = Regex.Matches(listing.Stdout, @"^(\S+) \S+\s+(\d+) \S+ \S+ \./(\S+)$", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[3].Value, m => (Mode: m.Groups[1].Value, Size: long.Parse(m.Groups[2].Value)));
        Assert.Equal("-rwxr-xr-x", files["usr/bin/sonde"].Mode);
        Assert.Equal("-rw-r--r--", files["lib/systemd/system/sonde.service"].Mode);
        Assert.Equal("-rw-r--r--", files["etc/sonde/sonde.json"].Mode);
        foreach (var f in new[] { "usr/share/man/man1/sonde.1.gz", "usr/share/doc/sonde/copyright", "usr/share/doc/sonde/changelog.gz" })
            Assert.True(files.ContainsKey(f), $"{f} is not in the package");
        // One self-contained file: no .NET runtime beside it.
        Assert.DoesNotContain(files.Keys, f => f.EndsWith(".dll", StringComparison.Ordinal) || f.EndsWith(".so", StringComparison.Ordinal)
            || f.EndsWith(".json", StringComparison.Ordinal) && f != "etc/sonde/sonde.json");
        // The unit and the default config are the repository's, byte for byte.
        string tree = Directory.CreateTempSubdirectory("sonde-deb-x-").FullName;
        try
        {
            DebianPackage.Check(DebianPackage.Host("/usr/bin/dpkg-deb", "-x", DebianPackage.DebPath, tree));
            Assert.Equal(File.ReadAllText(Path.Combine(Repo.Root, "packaging", "sonde.service")), File.ReadAllText(Path.Combine(tree, "lib/systemd/system/sonde.service")));
            Assert.Equal(File.ReadAllText(Path.Combine(Repo.Root, "packaging", "sonde.json")), File.ReadAllText(Path.Combine(tree, "etc/sonde/sonde.json")));
            // The executable runs on its own: no DOTNET_ROOT, no runtime next to it.
            var version = DebianPackage.Host(Path.Combine(tree, "usr/bin/sonde"), "version");
            Assert.Equal($"sonde {DebianPackage.Version}", version.Stdout.Trim());
        }
        finally { Directory.Delete(tree, recursive: true); }
    }

    [PackageFact]
    public void Control_fields_depend_on_libbpf_and_the_c_and_cxx_runtimes_only()
    {
        var control = ControlFiles();
        string Field(string name) => Regex.Match(control["control"], $@"(?m)^{name}: (.*)$").Groups[1].Value.Trim();
        Assert.Equal("sonde", Field("Package"));
        Assert.Equal(DebianPackage.Version, Field("Version"));
        Assert.Equal("amd64", Field("Architecture"));
        var depends = Field("Depends").Split(',', StringSplitOptions.TrimEntries).Select(d => d.Split(' ')[0]).ToHashSet();
        // libbpf is opened at run time (P/Invoke); the others are the
        // executable's NEEDED libraries (the .NET host is C++).
        Assert.Equal(new HashSet<string> { "libbpf1", "libc6", "libgcc-s1", "libstdc++6" }, depends);
        Assert.Equal("/etc/sonde/sonde.json", control["conffiles"].Trim());
        foreach (var script in new[] { "postinst", "prerm", "postrm" })
            Assert.Contains("deb-systemd-", control[script]);
    }

    /// <summary>The package's control files (control, conffiles, maintainer scripts), by name.</summary>
    private static Dictionary<string, string> ControlFiles()
    {
        string dir = Directory.CreateTempSubdirectory("sonde-deb-c-").FullName;
        try
        {
            DebianPackage.Check(DebianPackage.Host("/usr/bin/dpkg-deb", "-e", DebianPackage.DebPath, dir));
            return Directory.EnumerateFiles(dir).ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// lintian: no errors, and every tag it still reports (warning, info,
    /// pedantic, or overridden) is explained in packaging/README.md.
    /// </summary>
    [PackageFact]
    public void Lintian_reports_no_errors_and_packaging_readme_explains_every_other_tag()
    {
        Assert.True(File.Exists("/usr/bin/lintian"), "lintian is missing: `make deps` installs it");
        var r = DebianPackage.Host("/usr/bin/lintian", "--display-info", "--display-experimental", "--pedantic", "--show-overrides",
            "--tag-display-limit", "0", DebianPackage.DebPath);
        var tags = Regex.Matches(r.Stdout, @"^([EWIPXO]): sonde: (\S+)", RegexOptions.Multiline)
            .Select(m => (Kind: m.Groups[1].Value, Tag: m.Groups[2].Value)).Distinct().ToList();
        Assert.True(r.ExitCode is 0 or 1 or 2, $"lintian failed to run: {r.Stderr}");
        Assert.DoesNotContain(tags, t => t.Kind == "E");
        string readme = File.ReadAllText(Path.Combine(Repo.Root, "packaging", "README.md"));
        var unexplained = tags.Where(t => !readme.Contains($"`{t.Tag}`", StringComparison.Ordinal)).ToList();
        Assert.True(unexplained.Count == 0, "packaging/README.md does not explain lintian's " +
            string.Join(", ", unexplained.Select(t => $"{t.Kind}: {t.Tag}")) + "\n" + r.Stdout);
    }
}
