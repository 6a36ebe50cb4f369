using System.Globalization;

namespace Sonde.Cli;

/// <summary>
/// Reads `--name value`, `--name=value` and flags from a command's arguments,
/// strictly: an unknown option, a missing value or a bad number is a
/// <see cref="UsageException"/> that names the option.
/// </summary>
public sealed class ArgReader
{
    private readonly List<(string Name, string? Value)> _options = new();
    private readonly List<string> _positional = new();
    private readonly HashSet<string> _taken = new();

    public ArgReader(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        using var e = args.GetEnumerator();
        bool onlyPositional = false;
        while (e.MoveNext())
        {
            string a = e.Current;
            if (onlyPositional || !a.StartsWith("--", StringComparison.Ordinal) || a == "-")
            {
                if (a == "--") { onlyPositional = true; continue; }
                if (a.StartsWith('-') && a != "-" && !onlyPositional && a != "-h")
                    throw new UsageException($"unknown option '{a}'");
                _positional.Add(a == "-h" ? "--help" : a);
                continue;
            }
            int eq = a.IndexOf('=');
            string name = eq > 0 ? a[..eq] : a;
            if (flags.Contains(name))
            {
                if (eq > 0) throw new UsageException($"{name} takes no value");
                _options.Add((name, null));
            }
            else if (eq > 0) _options.Add((name, a[(eq + 1)..]));
            else if (e.MoveNext()) _options.Add((name, e.Current));
            else throw new UsageException($"{name} needs a value");
        }
    }

    public bool Help => _positional.Contains("--help") || Flag("--help");

    public bool Flag(string name)
    {
        _taken.Add(name);
        return _options.Any(o => o.Name == name);
    }

    public string? Value(string name)
    {
        var all = Values(name);
        if (all.Count > 1) throw new UsageException($"{name} given {all.Count} times");
        return all.Count == 1 ? all[0] : null;
    }

    public IReadOnlyList<string> Values(string name)
    {
        _taken.Add(name);
        return _options.Where(o => o.Name == name).Select(o => o.Value!).ToList();
    }

    public int? Int(string name, int min, int max)
    {
        var v = Value(name);
        if (v is null) return null;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
            throw new UsageException($"{name} must be a whole number from {min} to {max}, not '{v}'");
        return n;
    }

    public TimeSpan? Duration(string name)
    {
        var v = Value(name);
        return v is null ? null : ParseDuration(name, v);
    }

    /// <summary>"30s", "500ms", "2m", "1h", "1.5s"; a bare number is seconds.</summary>
    public static TimeSpan ParseDuration(string name, string v)
    {
        (string num, double scale) = v switch
        {
            _ when v.EndsWith("ms", StringComparison.Ordinal) => (v[..^2], 0.001),
            _ when v.EndsWith('s') => (v[..^1], 1.0),
            _ when v.EndsWith('m') => (v[..^1], 60.0),
            _ when v.EndsWith('h') => (v[..^1], 3600.0),
            _ => (v, 1.0),
        };
        if (!double.TryParse(num, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || d <= 0 || double.IsInfinity(d) || d * scale > 365 * 86400)
            throw new UsageException($"{name} must be a positive duration like 30s, 500ms or 2m, not '{v}'");
        return TimeSpan.FromSeconds(d * scale);
    }

    public IReadOnlyList<string> Positional => _positional.Where(p => p != "--help").ToList();

    /// <summary>Fails on any option the command did not ask for.</summary>
    public void RejectUnknown()
    {
        foreach (var (name, _) in _options)
            if (!_taken.Contains(name)) throw new UsageException($"unknown option '{name}'");
    }
}
