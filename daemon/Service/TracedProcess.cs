using Sonde.Interop.LibC;

namespace Sonde.Service;

/// <summary>A process `sonde run` traces: its service and the executable whose probes cover it.</summary>
public sealed record TracedProcess(int Pid, string Service, string Exe, FileVersion Binary);
