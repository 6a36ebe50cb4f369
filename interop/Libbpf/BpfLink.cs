namespace Sonde.Interop.Libbpf;

/// <summary>One attached probe. Dispose detaches it.</summary>
public sealed class BpfLink : IDisposable
{
    private readonly BpfLinkHandle _handle;
    internal BpfLink(BpfLinkHandle handle, string description)
    {
        _handle = handle;
        Description = description;
    }

    /// <summary>What it is attached to, for logs.</summary>
    public string Description { get; }
    public bool IsAttached => !_handle.IsClosed;
    public void Dispose() => _handle.Dispose();
}
