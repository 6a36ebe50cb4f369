namespace Sonde.GoBinary;

/// <summary>
/// A function of a Go program as its pclntab lists it: [Entry, End) in
/// link-time virtual addresses. End is the next function's entry, so it
/// includes the int3 padding between functions.
/// </summary>
public sealed record GoFunction(string Name, ulong Entry, ulong End)
{
    public ulong Size => End - Entry;

    public bool Contains(ulong address) => address >= Entry && address < End;
}
