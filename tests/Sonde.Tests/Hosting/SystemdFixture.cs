namespace Sonde.Tests.Hosting;

/// <summary>One <see cref="SystemdNamespace"/> shared by a test class, booted on first use.</summary>
public sealed class SystemdFixture : IDisposable
{
    private readonly Lazy<SystemdNamespace> _namespace = new(() => SystemdNamespace.Start());

    public SystemdNamespace Namespace => _namespace.Value;

    public void Dispose()
    {
        if (_namespace.IsValueCreated) _namespace.Value.Dispose();
    }
}
