using Sonde.Aggregation;

namespace Sonde.Tests.Aggregation;

public class DurationTextTests
{
    [Theory]
    [InlineData(0UL, "0ns")]
    [InlineData(7UL, "7ns")]
    [InlineData(999UL, "999ns")]
    [InlineData(1_000UL, "1.00us")]
    [InlineData(1_024UL, "1.02us")]
    [InlineData(9_996UL, "10.0us")]          // rounding moves to the next decade
    [InlineData(262_144UL, "262us")]
    [InlineData(999_600UL, "1.00ms")]        // ... and to the next unit
    [InlineData(1_048_576UL, "1.05ms")]
    [InlineData(30_000_000_000UL, "30.0s")]
    [InlineData(1_099_511_627_776UL, "1100s")]
    public void ThreeSignificantDigitsInTheLargestFittingUnit(ulong ns, string expected) =>
        Assert.Equal(expected, DurationText.Format(ns));

    [Theory]
    [InlineData("plain /path", 100, "plain /path")]
    [InlineData("a\u001b[31mb", 100, "a\\x1b[31mb")]
    [InlineData("\u0085\u2028", 100, "\\x85\\u2028")]
    [InlineData("abcdefghij", 8, "abcde...")]
    [InlineData("abcd\U0001F600xyz", 8, "abcd...")]  // a surrogate pair is not split
    public void TerminalTextEscapesControlsAndCuts(string text, int width, string expected) =>
        Assert.Equal(expected, TerminalText.Clean(text, width));
}
