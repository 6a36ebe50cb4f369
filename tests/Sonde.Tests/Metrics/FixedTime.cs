namespace Sonde.Tests.Metrics;

/// <summary>A clock that stays where the test puts it, for golden outputs.</summary>
public sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public static readonly DateTimeOffset Epoch2025 = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    public DateTimeOffset Now { get; set; } = now;

    public FixedTime() : this(Epoch2025) { }

    public override DateTimeOffset GetUtcNow() => Now;
}
