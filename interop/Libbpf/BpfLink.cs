using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>One attached link: a probe, or (a multi-uprobe link) several. Dispose detaches it.</summary>
public sealed class BpfLink : IDisposable
{
    private readonly SafeHandle _handle;
    internal BpfLink(SafeHandle handle, string description, int probes = 1)
    {
        _handle = handle;
        Description = description;
        Probes = probes;
    }

    /// <summary>What it is attached to, for logs.</summary>
    public string Description { get; }
    /// <summary>How many probes (uprobe offsets, tracepoints) it holds.</summary>
    public int Probes { get; }
    public bool IsAttached => !_handle.IsClosed;
    public void Dispose() => _handle.Dispose();
}
