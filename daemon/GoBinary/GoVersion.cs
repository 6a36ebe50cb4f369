namespace Sonde.GoBinary;

/// <summary>
/// A released Go toolchain version, the key struct layouts are looked up by.
/// Parses what <c>runtime.Version()</c> and <c>.go.buildinfo</c> hold:
/// <c>go1.19.8</c>, <c>go1.21.0</c>, <c>go1.20</c>; a pre-release
/// (<c>go1.21rc2</c>, <c>go1.22beta1</c>) is its release's version with
/// patch 0, since it carries that release's layouts; suffixes after a space
/// or dash (<c>go1.22.1 X:boringcrypto</c>, <c>go1.21.0-corp</c>) are
/// ignored. Development builds (<c>devel go1.23-abc...</c>) have no release
/// number and do not parse.
/// </summary>
public readonly record struct GoVersion(int Major, int Minor, int Patch) : IComparable<GoVersion>
{
    public static bool TryParse(string? s, out GoVersion version)
    {
        version = default;
        if (s is null || !s.StartsWith("go", StringComparison.Ordinal))
            return false;
        int at = 2;
        if (!Number(s, ref at, out int major))
            return false;
        int minor = 0, patch = 0;
        if (at < s.Length && s[at] == '.')
        {
            at++;
            if (!Number(s, ref at, out minor))
                return false;
            if (at < s.Length && s[at] == '.')
            {
                at++;
                if (!Number(s, ref at, out patch))
                    return false;
            }
        }
        if (at < s.Length)
        {
            var rest = s.AsSpan(at);
            bool prerelease = rest.StartsWith("rc", StringComparison.Ordinal) || rest.StartsWith("beta", StringComparison.Ordinal);
            if (prerelease)
                patch = 0;
            else if (rest[0] != ' ' && rest[0] != '-' && rest[0] != '+')
                return false;
        }
        version = new GoVersion(major, minor, patch);
        return true;
    }

    private static bool Number(string s, ref int at, out int value)
    {
        value = 0;
        int start = at;
        while (at < s.Length && char.IsAsciiDigit(s[at]))
        {
            if (at - start >= 6)
                return false;
            value = value * 10 + (s[at] - '0');
            at++;
        }
        return at > start;
    }

    public int CompareTo(GoVersion other)
    {
        int c = Major.CompareTo(other.Major);
        if (c == 0) c = Minor.CompareTo(other.Minor);
        if (c == 0) c = Patch.CompareTo(other.Patch);
        return c;
    }

    public static bool operator <(GoVersion a, GoVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(GoVersion a, GoVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(GoVersion a, GoVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(GoVersion a, GoVersion b) => a.CompareTo(b) >= 0;

    public override string ToString() => $"go{Major}.{Minor}.{Patch}";
}
