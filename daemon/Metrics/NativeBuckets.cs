namespace Sonde.Metrics;

/// <summary>
/// The bucket index of a positive value in a Prometheus native histogram of a
/// standard schema n (−4..8): the i with b^(i−1) &lt; v ≤ b^i, b = 2^(2^−n),
/// exactly at powers of two (prometheus/docs, docs/specs/native_histograms.md,
/// "Schema": upper limit (2**2**-n)**i inclusive, lower limit
/// (2**2**-n)**(i-1) exclusive).
/// </summary>
/// <remarks>
/// With v = f·2^e and f in [0.5, 1) (frexp), log2 v = e + log2 f, so
/// i = (e−1)·2^n + k where k is the smallest k in 0..2^n with
/// f ≤ 2^(k/2^n − 1): only the fraction needs a table search, and powers of
/// two (f = 0.5) land exactly on k = 0. For n ≤ 0 a bucket spans 2^−n powers
/// of two: i = ceil(e' / 2^−n) with e' = e − 1 when f = 0.5, else e.
/// </remarks>
internal static class NativeBuckets
{
    public const int MinSchema = -4;
    public const int MaxSchema = 8;

    // s_fractionBounds[n][k] = 2^(k/2^n - 1) for k in 0..2^n-1, schemas 1..8.
    private static readonly double[][] s_fractionBounds = BuildFractionBounds();

    public static int Index(double value, int schema)
    {
        if (!(value > 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(nameof(value), value, "must be positive and finite");
        Frexp(value, out double fraction, out int exponent);
        if (schema > 0)
        {
            var bounds = s_fractionBounds[schema];
            int lo = 0, hi = bounds.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (fraction <= bounds[mid]) hi = mid; else lo = mid + 1;
            }
            return ((exponent - 1) << schema) + lo;
        }
        int key = fraction == 0.5 ? exponent - 1 : exponent;
        int shift = -schema;
        return (key + (1 << shift) - 1) >> shift; // ceiling division by 2^shift
    }

    /// <summary>Upper (inclusive) bound of bucket <paramref name="index"/>: 2^(index·2^−schema).</summary>
    public static double UpperBound(int index, int schema) => Math.Pow(2, Math.ScaleB(index, -schema));

    /// <summary>value = fraction · 2^exponent with fraction in [0.5, 1), like C's frexp.</summary>
    private static void Frexp(double value, out double fraction, out int exponent)
    {
        long bits = BitConverter.DoubleToInt64Bits(value);
        int biased = (int)((bits >> 52) & 0x7FF);
        if (biased == 0)
        {
            // Subnormal: no implicit leading bit, so let the library normalise.
            exponent = Math.ILogB(value) + 1;
            fraction = Math.ScaleB(value, -exponent);
            return;
        }
        exponent = biased - 1022;
        // Keep sign and mantissa, set the exponent to 2^-1: the fraction in [0.5, 1).
        const long SignAndMantissa = unchecked((long)0x800F_FFFF_FFFF_FFFFUL);
        fraction = BitConverter.Int64BitsToDouble((bits & SignAndMantissa) | (1022L << 52));
    }

    private static double[][] BuildFractionBounds()
    {
        var table = new double[MaxSchema + 1][];
        for (var schema = 1; schema <= MaxSchema; schema++)
        {
            int n = 1 << schema;
            table[schema] = new double[n];
            for (var k = 0; k < n; k++) table[schema][k] = Math.Pow(2, (double)k / n - 1);
        }
        return table;
    }
}
