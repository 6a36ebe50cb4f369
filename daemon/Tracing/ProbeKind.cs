namespace Sonde.Tracing;

/// <summary>
/// How the kernel runs the probed instruction, which decides a hit's cost:
/// emulated (jmp/call rel32/jcc/nop/push: ~0.75 µs on these VMs) or
/// single-stepped out of line (everything else: ~15 µs).
/// </summary>
public enum ProbeKind { Emulated, SingleStep }
