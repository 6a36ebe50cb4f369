namespace Sonde.Metrics;

/// <summary>
/// Compares label-value tuples by content (ordinal), and lets a dictionary
/// keyed by <c>string[]</c> be searched with a span of strings, so that finding
/// an existing series allocates nothing.
/// </summary>
internal sealed class LabelValuesComparer : IEqualityComparer<string[]>, IAlternateEqualityComparer<ReadOnlySpan<string>, string[]>
{
    public static LabelValuesComparer Instance { get; } = new();

    public bool Equals(string[]? x, string[]? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && Equals((ReadOnlySpan<string>)x, y));

    public int GetHashCode(string[] obj) => GetHashCode((ReadOnlySpan<string>)obj);

    public bool Equals(ReadOnlySpan<string> alternate, string[] other)
    {
        if (alternate.Length != other.Length) return false;
        for (var i = 0; i < alternate.Length; i++)
            if (!string.Equals(alternate[i] ?? "", other[i], StringComparison.Ordinal)) return false;
        return true;
    }

    public int GetHashCode(ReadOnlySpan<string> alternate)
    {
        var hash = new HashCode();
        foreach (var value in alternate) hash.Add(value ?? "", StringComparer.Ordinal);
        return hash.ToHashCode();
    }

    public string[] Create(ReadOnlySpan<string> alternate)
    {
        var copy = new string[alternate.Length];
        for (var i = 0; i < copy.Length; i++) copy[i] = alternate[i] ?? "";
        return copy;
    }
}
