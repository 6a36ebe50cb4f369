namespace Sonde.GoBinary;

/// <summary>
/// A function of a Go program as its pclntab lists it: [Entry, End) in
/// link-time virtual addresses. End is the next function's entry, so it
/// includes the int3 padding between functions.
/// </summary>
public sealed record GoFunction(string Name, ulong Entry, ulong End)
{
    public ulong Size => End - Entry;

    /// <summary>
    /// The size of its arguments in bytes, from the pclntab's _func record
    /// (runtime/runtime2.go _func.args); -1 when not read.
    /// </summary>
    public int ArgBytes { get; init; } = -1;

    public bool Contains(ulong address) => address >= Entry && address < End;
}
