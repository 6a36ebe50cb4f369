namespace Sonde.Tests.Support;

/// <summary>
/// Tests that attach probes run one at a time: they count BPF programs and
/// links machine-wide, and two captures on 2 CPUs would skew the timings.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelCollection
{
    public const string Name = "kernel";
}
