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

    /// <summary>
    /// Call after the run: none of its programs or links remain. The kernel frees a
    /// closed multi-uprobe link (and the programs it held) after an RCU grace period
    /// (bpf_link_free's deferred dealloc), so they may be listed for a moment after
    /// the process that owned them exited: within 5 s they must be gone.
    /// </summary>
    public void Gone()
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        HashSet<long> left;
        int links;
        while (true)
        {
            left = Bpftool.SondeProgramIds();
            left.IntersectWith(_ours);
            links = Bpftool.LinksOf(_ours);
            if ((left.Count == 0 && links == 0) || DateTime.UtcNow > deadline) break;
            Thread.Sleep(50);
        }
        Assert.Empty(left);
        Assert.Equal(0, links);
    }

    /// <summary>For a run that must fail before loading anything: no new sonde_ program appeared.</summary>
    public void NothingLoaded()
    {
        var now = Bpftool.SondeProgramIds();
        now.ExceptWith(_before);
        Assert.Empty(now);
    }
}
