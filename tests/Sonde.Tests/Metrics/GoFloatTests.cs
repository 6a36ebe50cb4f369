using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>Numbers spelled as Go's fmt.Sprint spells them (the expectations are Go 1.19's output), and OpenMetrics' canonical le values.</summary>
public sealed class GoFloatTests
{
    [Theory]
    [InlineData(1234567.0, "1.234567e+06")]
    [InlineData(123456.0, "123456")]
    [InlineData(100000.0, "100000")]
    [InlineData(1e6, "1e+06")]
    [InlineData(1e21, "1e+21")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(0.00025, "0.00025")]
    [InlineData(2.5, "2.5")]
    [InlineData(10.0, "10")]
    [InlineData(1e-10, "1e-10")]
    [InlineData(123.456, "123.456")]
    [InlineData(1.5e300, "1.5e+300")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    [InlineData(-0.005, "-0.005")]
    [InlineData(0.0, "0")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    public void Format_matches_go(double value, string expected) => Assert.Equal(expected, GoFloat.Format(value));

    [Theory]
    // OpenMetrics 1.0 "Canonical Numbers" examples.
    [InlineData(0.0, "0.0")]
    [InlineData(0.001, "0.001")]
    [InlineData(0.95, "0.95")]
    [InlineData(0.999, "0.999")]
    [InlineData(1.0, "1.0")]
    [InlineData(1.7, "1.7")]
    [InlineData(10.0, "10.0")]
    [InlineData(1e-10, "1e-10")]
    [InlineData(1e-09, "1e-09")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(100000.0, "100000.0")]
    [InlineData(1e+06, "1e+06")]
    [InlineData(1e+10, "1e+10")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    public void Canonical_le_values_follow_openmetrics(double value, string expected) =>
        Assert.Equal(expected, GoFloat.FormatCanonical(value));
}
