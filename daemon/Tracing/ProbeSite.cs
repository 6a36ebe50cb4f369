namespace Sonde.Tracing;

/// <summary>One uprobe to attach: which BPF program, where, and what a hit costs.</summary>
/// <param name="Program">BPF program name in bpf/http.bpf.c.</param>
/// <param name="Function">Go function the address is in.</param>
/// <param name="Address">Virtual address in the binary.</param>
/// <param name="FileOffset">File offset, what uprobes attach by.</param>
/// <param name="Instruction">The probed instruction, as disassembled.</param>
public sealed record ProbeSite(string Program, string Function, ulong Address, long FileOffset, ProbeKind Kind, string Instruction);
