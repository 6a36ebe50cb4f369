namespace Sonde.Tests.Support;

/// <summary>
/// The BPF programs one Sonde run loaded, told apart from other Sonde
/// instances on the machine: the sonde_* programs that appeared between
/// <see cref="Before"/> and <see cref="Attached"/>. After the run they must be
/// gone, and no link may refer to them.
/// </summary>
public sealed class BpfFootprint
{
    private readonly HashSet<long> _before;
    private HashSet<long> _ours = new();

    private BpfFootprint(HashSet<long> before) => _before = before;

    public static BpfFootprint Before() => new(Bpftool.SondeProgramIds());

    /// <summary>Call while the run is attached: records its programs and links.</summary>
    public void Attached()
    {
        _ours = Bpftool.SondeProgramIds();
        _ours.ExceptWith(_before);
        Assert.NotEmpty(_ours);
        Assert.True(Bpftool.LinksOf(_ours) > 0, "while tracing, bpftool should list this run's links");
    }

    /// <summary>Call after the run: none of its programs or links remain.</summary>
    public void Gone()
    {
        var left = Bpftool.SondeProgramIds();
        left.IntersectWith(_ours);
        Assert.Empty(left);
        Assert.Equal(0, Bpftool.LinksOf(_ours));
    }

    /// <summary>For a run that must fail before loading anything: no new sonde_ program appeared.</summary>
    public void NothingLoaded()
    {
        var now = Bpftool.SondeProgramIds();
        now.ExceptWith(_before);
        Assert.Empty(now);
    }
}
