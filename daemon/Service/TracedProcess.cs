using Sonde.Interop.Libbpf;
using Sonde.Interop.LibC;

namespace Sonde.Service;

/// <summary>
/// A process `sonde run` traces: its service, the executable whose offsets it has,
/// and the probes attached for it alone (none when its file's probes cover every
/// process of the file: see <see cref="TracedBinary"/>).
/// </summary>
public sealed record TracedProcess(int Pid, string Service, string Exe, FileVersion Binary)
{
    public IReadOnlyList<BpfLink> Links { get; init; } = [];
}
