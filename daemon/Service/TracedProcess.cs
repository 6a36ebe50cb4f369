using Sonde.Interop.Libbpf;

namespace Sonde.Service;

/// <summary>A process `sonde run` has attached to, and the probes that go when it does.</summary>
public sealed record TracedProcess(int Pid, string Service, string Exe, IReadOnlyList<BpfLink> Links);
