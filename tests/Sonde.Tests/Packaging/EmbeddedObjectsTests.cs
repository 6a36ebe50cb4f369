using Sonde.Tracing;

namespace Sonde.Tests.Packaging;

/// <summary>The daemon carries the BPF objects it loads, and no test or benchmark object.</summary>
public sealed class EmbeddedObjectsTests
{
    [Fact]
    public void Only_the_products_BPF_objects_are_embedded()
    {
        var bpf = typeof(HttpTracer).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("bpf/", StringComparison.Ordinal) && n.EndsWith(".bpf.o", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["bpf/http.bpf.o", "bpf/procs.bpf.o"], bpf);
        // And each of them is what the tracer opens.
        Assert.NotEmpty(HttpTracer.EmbeddedObject("http.bpf.o"));
        Assert.NotEmpty(HttpTracer.EmbeddedObject("procs.bpf.o"));
    }
}
