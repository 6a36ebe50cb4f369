using System.Globalization;

namespace Sonde.Aggregation;

/// <summary>
/// Nanosecond durations as the summary prints them: three significant digits
/// and the largest unit that keeps the number at or above 1 (<c>262us</c>,
/// <c>1.05ms</c>, <c>30.0s</c>). Log2 bucket edges are powers of two in ns,
/// so they print as they are (2^20 ns is <c>1.05ms</c>), not rounded to
/// friendlier but wrong numbers.
/// </summary>
internal static class DurationText
{
    private static readonly (double Scale, string Unit)[] Units = [(1, "ns"), (1e3, "us"), (1e6, "ms"), (1e9, "s")];

    public static string Format(ulong ns) => Format((double)ns);

    public static string Format(double ns)
    {
        if (ns <= 0 || double.IsNaN(ns)) return "0ns";
        var rounded = RoundToSignificant(ns, 3);
        var unit = 0;
        while (unit < Units.Length - 1 && rounded >= Units[unit + 1].Scale) unit++;
        var value = rounded / Units[unit].Scale;
        var format = value < 10 ? "0.00" : value < 100 ? "0.0" : "0";
        if (unit == 0) format = "0"; // whole nanoseconds
        return value.ToString(format, CultureInfo.InvariantCulture) + Units[unit].Unit;
    }

    private static double RoundToSignificant(double value, int digits)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)) + 1 - digits);
        return Math.Round(value / magnitude) * magnitude;
    }
}
