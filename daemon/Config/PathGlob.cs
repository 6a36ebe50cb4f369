using System.Text;
using System.Text.RegularExpressions;

namespace Sonde.Config;

/// <summary>
/// A shell-style glob over absolute paths, as <c>targets[].exe</c> takes:
/// <c>*</c> and <c>?</c> match within one path segment (never <c>/</c>),
/// <c>[abc]</c>, <c>[a-z]</c> and <c>[!a-z]</c> match one character of a set,
/// and <c>**</c> matches any run of characters, <c>/</c> included
/// (<c>/opt/**/server</c>). Matching is ordinal and case-sensitive, like the
/// file system.
/// </summary>
public sealed class PathGlob
{
    private readonly Regex _regex;

    private PathGlob(string pattern, Regex regex)
    {
        Pattern = pattern;
        _regex = regex;
    }

    public string Pattern { get; }

    public bool IsMatch(string path) => _regex.IsMatch(path);

    public static bool HasWildcard(string s) => s.IndexOfAny(['*', '?', '[']) >= 0;

    /// <summary>Compiles <paramref name="pattern"/>; a malformed one (unclosed <c>[</c>, empty set) is an <see cref="ArgumentException"/> saying why.</summary>
    public static PathGlob Parse(string pattern)
    {
        var re = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '*' when i + 1 < pattern.Length && pattern[i + 1] == '*':
                    re.Append(".*");
                    i++;
                    break;
                case '*':
                    re.Append("[^/]*");
                    break;
                case '?':
                    re.Append("[^/]");
                    break;
                case '[':
                    int close = pattern.IndexOf(']', i + 2 < pattern.Length && pattern[i + 1] == '!' ? i + 3 : i + 2);
                    if (close < 0) throw new ArgumentException($"unclosed '[' at offset {i} in '{pattern}'");
                    string set = pattern[(i + 1)..close];
                    bool negate = set.StartsWith('!');
                    if (negate) set = set[1..];
                    if (set.Length == 0) throw new ArgumentException($"empty character set at offset {i} in '{pattern}'");
                    re.Append(negate ? "[^/" : "[");
                    foreach (char s in set) re.Append(s is '\\' or '^' or '[' or ']' ? "\\" + s : s.ToString());
                    re.Append(']');
                    i = close;
                    break;
                default:
                    re.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        re.Append('$');
        return new PathGlob(pattern, new Regex(re.ToString(), RegexOptions.CultureInvariant | RegexOptions.NonBacktracking));
    }

    public override string ToString() => Pattern;
}
