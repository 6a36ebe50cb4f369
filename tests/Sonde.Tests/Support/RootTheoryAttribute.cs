namespace Sonde.Tests.Support;

/// <summary>The theory form of <see cref="RootFactAttribute"/>.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        Skip = new RootFactAttribute().Skip;
    }
}
