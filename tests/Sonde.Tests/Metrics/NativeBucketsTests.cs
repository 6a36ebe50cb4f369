using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>
/// Native histogram bucket indexes against values worked out by hand from the
/// specification's definition: bucket i of schema n holds (b^(i−1), b^i],
/// b = 2^(2^−n) (prometheus/docs, docs/specs/native_histograms.md).
/// </summary>
public sealed class NativeBucketsTests
{
    [Theory]
    // Schema 0, b = 2: (0.5, 1] is 0, (1, 2] is 1, (2, 4] is 2.
    [InlineData(0, 1.0, 0)]
    [InlineData(0, 0.75, 0)]
    [InlineData(0, 1.5, 1)]
    [InlineData(0, 2.0, 1)]
    [InlineData(0, 3.0, 2)]
    [InlineData(0, 4.0, 2)]
    [InlineData(0, 0.5, -1)]
    [InlineData(0, 0.3, -1)]
    [InlineData(0, 0.25, -2)]
    // 1 ns in seconds: log2(1e-9) = -29.897, ceil = -29.
    [InlineData(0, 1e-9, -29)]
    // Schema 3, b = 2^(1/8) ≈ 1.0905: index = ceil(8·log2 v).
    [InlineData(3, 1.0, 0)]
    [InlineData(3, 2.0, 8)]
    [InlineData(3, 0.5, -8)]
    [InlineData(3, 1.05, 1)]     // 8·0.0704 = 0.563
    [InlineData(3, 1.1, 2)]      // 8·0.1375 = 1.100
    [InlineData(3, 1.5, 5)]      // 8·0.5850 = 4.680
    [InlineData(3, 0.1, -26)]    // 8·(-3.3219) = -26.575
    [InlineData(3, 0.099, -26)]  // 8·(-3.3364) = -26.691
    [InlineData(3, 0.005, -61)]  // 8·(-7.6439) = -61.151
    [InlineData(3, 0.0005, -87)] // 8·(-10.9658) = -87.726
    [InlineData(3, 0.001, -79)]  // 8·(-9.9658) = -79.726
    [InlineData(3, 0.02, -45)]   // 8·(-5.6439) = -45.151
    // Schema 8: 256 buckets per power of two.
    [InlineData(8, 2.0, 256)]
    [InlineData(8, 1.5, 150)]    // 256·0.5850 = 149.75
    // Schema -1, b = 4: (1/4, 1] is 0, (1, 4] is 1, (4, 16] is 2.
    [InlineData(-1, 1.0, 0)]
    [InlineData(-1, 0.5, 0)]
    [InlineData(-1, 3.0, 1)]
    [InlineData(-1, 4.0, 1)]
    [InlineData(-1, 5.0, 2)]
    [InlineData(-1, 0.2, -1)]
    // Schema -4, b = 2^16: (1, 65536] is 1.
    [InlineData(-4, 65536.0, 1)]
    [InlineData(-4, 65537.0, 2)]
    [InlineData(-4, 2.0, 1)]
    public void Index_matches_hand_computed_buckets(int schema, double value, int expected) =>
        Assert.Equal(expected, NativeBuckets.Index(value, schema));

    [Theory]
    [InlineData(-4)]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public void Powers_of_two_are_upper_inclusive_bucket_boundaries(int schema)
    {
        for (var k = -40; k <= 40; k++)
        {
            double v = Math.ScaleB(1, k);
            // 2^k is the upper bound of bucket k·2^n (n ≥ 0), or of ceil(k / 2^-n).
            int expected = schema >= 0 ? k << schema : (int)Math.Ceiling(k / Math.Pow(2, -schema));
            Assert.Equal(expected, NativeBuckets.Index(v, schema));
            // Just above 2^k is the next bucket when 2^k is a boundary (always
            // for n ≥ 0; for n < 0 only every 2^-n powers), else the same one.
            bool boundary = schema >= 0 || k % (1 << -schema) == 0;
            Assert.Equal(boundary ? expected + 1 : expected, NativeBuckets.Index(Math.BitIncrement(v), schema));
        }
    }

    [Fact]
    public void Every_value_lies_inside_its_bucket()
    {
        var random = new Random(7);
        for (var schema = NativeBuckets.MinSchema; schema <= NativeBuckets.MaxSchema; schema++)
        {
            for (var i = 0; i < 2000; i++)
            {
                double v = Math.Exp(random.NextDouble() * 60 - 30); // 1e-13 .. 1e13
                int index = NativeBuckets.Index(v, schema);
                double upper = NativeBuckets.UpperBound(index, schema), lower = NativeBuckets.UpperBound(index - 1, schema);
                // Math.Pow is not exact to the last bit; a value within 1e-12 of a bound may go either way.
                Assert.True(v <= upper * (1 + 1e-12) && v > lower * (1 - 1e-12), $"schema {schema}: {v} not in ({lower}, {upper}] of bucket {index}");
            }
        }
    }
}
