namespace Sonde.GoBinary;

/// <summary>
/// One PT_LOAD program header (Elf64_Phdr, System V gABI "Program Header"):
/// <see cref="FileSize"/> bytes at <see cref="Offset"/> are mapped at
/// <see cref="VirtualAddress"/>; the rest up to <see cref="MemorySize"/> is
/// zero-filled and has no bytes in the file.
/// </summary>
public sealed record ElfSegment(uint Flags, ulong Offset, ulong VirtualAddress, ulong FileSize, ulong MemorySize)
{
    /// <summary>PF_X, PF_W, PF_R (gABI).</summary>
    public const uint FlagExecute = 1, FlagWrite = 2, FlagRead = 4;

    public bool IsExecutable => (Flags & FlagExecute) != 0;
    public bool IsWritable => (Flags & FlagWrite) != 0;

    /// <summary>Whether <paramref name="vaddr"/> lies in the file-backed part of the segment.</summary>
    public bool ContainsFileBacked(ulong vaddr) => vaddr >= VirtualAddress && vaddr - VirtualAddress < FileSize;
}
