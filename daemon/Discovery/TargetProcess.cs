namespace Sonde.Discovery;

/// <summary>A running process chosen for tracing.</summary>
/// <param name="ExePath">What /proc/PID/exe points at (may end in " (deleted)").</param>
public sealed record TargetProcess(int Pid, string ExePath);
