using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Sonde.Tests.Hosting;
using Sonde.Tests.Support;

namespace Sonde.Tests.Packaging;

/// <summary>
/// packaging/sonde.1 (installed as /usr/share/man/man1/sonde.1.gz) against
/// the program it documents, and as Debian's lintian checks it.
/// </summary>
public sealed partial class ManPageTests
{
    /// <summary>Every command with a --help of its own, each with a .SS "sonde COMMAND" under COMMANDS.</summary>
    public static TheoryData<string> Commands => new() { "trace", "report", "run", "check-config" };

    /// <summary>Options every command takes; the COMMANDS introduction documents them once for all.</summary>
    private static readonly string[] CommonOptions = ["--help"];

    /// <summary>The .TH line as written: the package build fills in @DATE@ and @VERSION@.</summary>
    private const string ThLine = ".TH SONDE 1 \"@DATE@\" \"sonde @VERSION@\" \"User Commands\"";

    private static string PagePath => Path.Combine(Repo.Root, "packaging", "sonde.1");

    private static string[] PageLines => File.ReadAllLines(PagePath);

    [Theory]
    [MemberData(nameof(Commands))]
    public void Documents_every_option_the_command_prints_in_its_help(string command)
    {
        var documented = CommandSection(command).Concat(CommonOptions).ToHashSet();
        var missing = HelpOptions(command).Where(o => !documented.Contains(o)).ToList();
        Assert.True(missing.Count == 0,
            $"`sonde {command} --help` prints {string.Join(", ", missing)}, which packaging/sonde.1 does not name " +
            $"(as \\-\\-option) under .SS \"sonde {command}\"");
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Documents_no_option_the_command_lacks(string command)
    {
        var exists = HelpOptions(command).Concat(CommonOptions).ToHashSet();
        var invented = CommandSection(command).Concat(SynopsisOptions(command)).Where(o => !exists.Contains(o)).Distinct().ToList();
        Assert.True(invented.Count == 0,
            $"packaging/sonde.1 documents {string.Join(", ", invented)} for sonde {command} (in its .SS or SYNOPSIS line), " +
            $"but `sonde {command} --help` knows no such option");
    }

    [Fact]
    public void Documents_the_common_options_once_for_every_command()
    {
        var intro = Section("COMMANDS").TakeWhile(l => !l.StartsWith(".SS", StringComparison.Ordinal)).ToList();
        var missing = CommonOptions.Except(intro.SelectMany(OptionsIn)).ToList();
        Assert.True(missing.Count == 0,
            $"every command takes {string.Join(", ", missing)}, which the COMMANDS introduction of packaging/sonde.1 does not name");
    }

    [Fact]
    public void Writes_every_option_hyphen_as_a_minus_sign()
    {
        // `-` is a hyphen to troff (U+2010 in UTF-8 output), which a shell won't
        // take: options are written \-\-name, \-h.
        var bad = PageLines.Select((line, i) => (Line: line, Number: i + 1))
            .Where(l => !IsComment(l.Line) && UnescapedOption().IsMatch(FontEscapes().Replace(l.Line, "")))
            .Select(l => $"line {l.Number}: {l.Line}").ToList();
        Assert.True(bad.Count == 0, "options written with plain hyphens:\n" + string.Join('\n', bad));
    }

    [Fact]
    public void Th_line_carries_the_placeholders_the_package_build_fills_in()
    {
        Assert.Equal(ThLine, PageLines.Single(l => l.StartsWith(".TH ", StringComparison.Ordinal)));
        // @VERSION@ becomes what `sonde version` prints after "sonde ".
        Assert.Matches(@"^\d+\.\d+\.\d+$", Version());
    }

    [Fact]
    public void Renders_without_a_warning_from_groff_or_man()
    {
        string groff = RequireTool("groff", "groff");
        string man = RequireTool("man", "man-db");
        string lexgrog = RequireTool("lexgrog", "man-db");
        string dir = Directory.CreateTempSubdirectory("sonde-man").FullName;
        try
        {
            string version = Version();
            string date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            string page = Path.Combine(dir, "sonde.1");
            File.WriteAllText(page, File.ReadAllText(PagePath).Replace("@VERSION@", version).Replace("@DATE@", date));
            var problems = new List<string>();

            var r = Run(groff, null, "-man", "-ww", "-z", page);
            if (r.ExitCode != 0 || r.Stderr.Length > 0) problems.Add($"groff -man -ww -z: exit {r.ExitCode}\n{r.Stderr}");

            // What lintian runs (checks/documentation/manual.pm): anything on stderr
            // is a manpage-has-errors-from-man tag.
            var lintian = new Dictionary<string, string> { ["LC_ALL"] = "C.UTF-8", ["MANROFFSEQ"] = "", ["MANWIDTH"] = "80" };
            r = Run(man, lintian, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page);
            if (r.ExitCode != 0 || r.Stderr.Length > 0) problems.Add($"man --warnings -E UTF-8 -l -Tutf8 -Z: exit {r.ExitCode}\n{r.Stderr}");

            // The whatis entry mandb and lintian (manpage-has-bad-whatis-entry) read from NAME.
            r = Run(lexgrog, null, page);
            if (r.ExitCode != 0 || !r.Stdout.Contains("\"sonde - ", StringComparison.Ordinal))
                problems.Add($"lexgrog: exit {r.ExitCode}, no \"sonde - ...\" whatis entry\n{r.Stdout}{r.Stderr}");

            // The footer shows the version as `sonde version` prints it, and the date.
            r = Run(groff, null, "-man", "-Tutf8", "-P-cbou", page);
            string footer = r.Stdout.Split('\n').LastOrDefault(l => l.Trim().Length > 0) ?? "";
            if (r.ExitCode != 0 || !footer.Contains($"sonde {version}", StringComparison.Ordinal) || !footer.Contains(date, StringComparison.Ordinal))
                problems.Add($"the rendered footer should show 'sonde {version}' and {date}: '{footer.Trim()}'");

            Assert.True(problems.Count == 0, string.Join("\n", problems));
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>The long options `sonde COMMAND --help` prints, anywhere in its text.</summary>
    private static List<string> HelpOptions(string command)
    {
        var r = BuiltSonde.Run(command, "--help");
        Assert.True(r.ExitCode == 0, $"sonde {command} --help: exit {r.ExitCode}\n{r.Stderr}");
        Assert.StartsWith($"Usage: sonde {command}", r.Stdout, StringComparison.Ordinal);
        return HelpOption().Matches(r.Stdout).Select(m => m.Value).Distinct().ToList();
    }

    /// <summary>Options named in the man page's .SS "sonde COMMAND" under COMMANDS.</summary>
    private static List<string> CommandSection(string command)
    {
        var sections = SubSections(Section("COMMANDS")).Where(s => s.Title == $"sonde {command}").ToList();
        Assert.True(sections.Count == 1, $"packaging/sonde.1 has {sections.Count} .SS \"sonde {command}\" under COMMANDS; it needs one");
        return sections[0].Lines.SelectMany(OptionsIn).Distinct().ToList();
    }

    /// <summary>Options on the SYNOPSIS line of `sonde COMMAND` (lines up to the next .br).</summary>
    private static List<string> SynopsisOptions(string command)
    {
        var entries = new List<List<string>> { new() };
        foreach (var line in Section("SYNOPSIS"))
            if (line.StartsWith(".br", StringComparison.Ordinal)) entries.Add(new());
            else entries[^1].Add(line);
        string start = $@"\fBsonde {command.Replace("-", @"\-", StringComparison.Ordinal)}\fR";
        var mine = entries.Where(e => e.Count > 0 && e[0].StartsWith(start, StringComparison.Ordinal)).ToList();
        Assert.True(mine.Count == 1, $"packaging/sonde.1 has {mine.Count} SYNOPSIS lines starting {start}; it needs one");
        return mine[0].SelectMany(OptionsIn).Distinct().ToList();
    }

    /// <summary>The lines of `.SH NAME`, up to the next .SH.</summary>
    private static List<string> Section(string name)
    {
        var lines = PageLines.SkipWhile(l => !IsHeading(l, ".SH", name)).ToList();
        Assert.True(lines.Count > 0, $"packaging/sonde.1 has no .SH {name}");
        return lines.Skip(1).TakeWhile(l => !l.StartsWith(".SH", StringComparison.Ordinal)).ToList();
    }

    private static IEnumerable<(string Title, List<string> Lines)> SubSections(List<string> section)
    {
        (string Title, List<string> Lines)? current = null;
        foreach (var line in section)
        {
            if (line.StartsWith(".SS", StringComparison.Ordinal))
            {
                if (current is { } done) yield return done;
                current = (HeadingText(line), new List<string>());
            }
            else current?.Lines.Add(line);
        }
        if (current is { } last) yield return last;
    }

    private static bool IsHeading(string line, string macro, string name) =>
        line.StartsWith(macro + " ", StringComparison.Ordinal) && HeadingText(line) == name;

    /// <summary>`.SS "sonde check\-config"` → `sonde check-config`.</summary>
    private static string HeadingText(string line) =>
        line[3..].Trim().Trim('"').Replace(@"\-", "-", StringComparison.Ordinal).Replace(@"\%", "", StringComparison.Ordinal);

    /// <summary>`\-\-ringbuf\-mib` in troff source → `--ringbuf-mib`; comment lines name none.</summary>
    private static IEnumerable<string> OptionsIn(string line) => IsComment(line) ? []
        : TroffOption().Matches(line).Select(m => "--" + m.Groups[1].Value.Replace(@"\-", "-", StringComparison.Ordinal));

    private static bool IsComment(string line) => line.StartsWith(@".\""", StringComparison.Ordinal) || line.StartsWith(@"'\""", StringComparison.Ordinal);

    /// <summary>What `sonde version` prints after "sonde ".</summary>
    private static string Version()
    {
        var r = BuiltSonde.Run("version");
        Assert.Equal(0, r.ExitCode);
        var m = Regex.Match(r.Stdout, @"^sonde (\S+)\n?$");
        Assert.True(m.Success, $"sonde version printed '{r.Stdout}', not 'sonde VERSION'");
        return m.Groups[1].Value;
    }

    private static string RequireTool(string name, string package)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
            if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        Assert.Fail($"needs {name}: apt-get install {package}");
        return "";
    }

    private static CommandResult Run(string file, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        HostCommand.Run(file, args, environment);

    /// <summary>A long option in help text: --name, --two-words (not a "---" rule or "--" alone).</summary>
    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")]
    private static partial Regex HelpOption();

    /// <summary>A long option in troff source, every hyphen escaped: \-\-name, \-\-two\-words.</summary>
    [GeneratedRegex(@"\\-\\-([a-z][a-z0-9]*(?:\\-[a-z0-9]+)*)")]
    private static partial Regex TroffOption();

    /// <summary>Escapes that separate nothing: font changes, \% and \&amp;.</summary>
    [GeneratedRegex(@"\\f[BIRP]|\\%|\\&")]
    private static partial Regex FontEscapes();

    /// <summary>An option written with a plain hyphen: "-x" or "--x" starting a word, or "\--x".</summary>
    [GeneratedRegex(@"(?<![\\\w])-+[A-Za-z]")]
    private static partial Regex UnescapedOption();
}
