using Sonde.GoBinary;

namespace Sonde.Tracing;

/// <summary>One traced executable: its analysis, probe plan, offsets source and the pids it covers.</summary>
/// <param name="Pids">Pids attached to; empty means every process of the file (--exe).</param>
public sealed record AttachedBinary(string Path, GoExecutable Executable, ProbePlan Plan, string OffsetsSource,
    IReadOnlyList<int> Pids, int ConfigIndex);
