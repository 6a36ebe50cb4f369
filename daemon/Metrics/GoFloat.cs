using System.Globalization;

namespace Sonde.Metrics;

/// <summary>
/// Numbers as Prometheus spells them. Go's shortest <c>%g</c> formatting
/// (<c>strconv.FormatFloat(v, 'g', -1, 64)</c>: fixed notation for decimal
/// exponents −4..5, otherwise <c>d.ddde±XX</c>) and the OpenMetrics canonical
/// form of <c>le</c> values, which appends <c>.0</c> when that has neither a
/// point nor an exponent (OpenMetrics 1.0, "Considerations: Canonical
/// Numbers"; Prometheus' formatOpenMetricsFloat, which is how it names the
/// <c>le</c> of a protobuf scrape).
/// </summary>
/// <remarks>
/// Sonde writes <c>le</c> the canonical way in every format, so that a bucket
/// keeps the same series name whichever format Prometheus negotiates.
/// </remarks>
internal static class GoFloat
{
    public static string Format(double value)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsPositiveInfinity(value)) return "+Inf";
        if (double.IsNegativeInfinity(value)) return "-Inf";
        if (value == 0) return double.IsNegative(value) ? "-0" : "0";

        // .NET's "R" yields the same shortest round-trip digits Go's 'g', -1 does;
        // only the layout differs ("1E-05" vs "1e-05", "1E+15" vs "1e+15").
        string r = value.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r[0] == '-';
        if (negative) r = r[1..];
        int e = r.IndexOfAny(['E', 'e']);
        int exponent = e < 0 ? 0 : int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        string mantissa = e < 0 ? r : r[..e];
        int point = mantissa.IndexOf('.');
        string digits = point < 0 ? mantissa : mantissa.Remove(point, 1);
        int intDigits = point < 0 ? mantissa.Length : point;
        int leadingZeros = 0;
        while (leadingZeros < digits.Length - 1 && digits[leadingZeros] == '0') leadingZeros++;
        digits = digits[leadingZeros..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        // value = d.ddd × 10^x
        int x = intDigits - 1 - leadingZeros + exponent;

        string text;
        if (x < -4 || x >= 6)
        {
            string fraction = digits.Length > 1 ? "." + digits[1..] : "";
            int ax = Math.Abs(x);
            text = digits[0] + fraction + "e" + (x < 0 ? "-" : "+") + (ax < 10 ? "0" : "") + ax.ToString(CultureInfo.InvariantCulture);
        }
        else if (x < 0)
        {
            text = "0." + new string('0', -x - 1) + digits;
        }
        else
        {
            string whole = digits.Length > x + 1 ? digits[..(x + 1)] : digits.PadRight(x + 1, '0');
            string fraction = digits.Length > x + 1 ? "." + digits[(x + 1)..] : "";
            text = whole + fraction;
        }
        return negative ? "-" + text : text;
    }

    /// <summary>The canonical OpenMetrics spelling of an <c>le</c> value: 1.0, 0.005, 10.0, 1e-05, +Inf.</summary>
    public static string FormatCanonical(double value)
    {
        string text = Format(value);
        if (double.IsNaN(value) || double.IsInfinity(value)) return text;
        return text.AsSpan().IndexOfAny('.', 'e') >= 0 ? text : text + ".0";
    }
}
