namespace Sonde.GoBinary;

/// <summary>
/// One entry of an ELF section header table (Elf64_Shdr, System V gABI
/// "Sections"). <see cref="Size"/> is the size in the file; for a
/// <see cref="IsCompressed"/> section the data starts with an Elf64_Chdr and
/// <see cref="ElfFile.SectionData(ElfSection)"/> returns it inflated.
/// </summary>
public sealed record ElfSection(
    int Index,
    string Name,
    uint Type,
    ulong Flags,
    ulong Address,
    ulong Offset,
    ulong Size,
    uint Link,
    uint Info,
    ulong EntrySize)
{
    /// <summary>SHT_NOBITS (gABI): occupies no file space (.bss, .noptrbss, .tbss).</summary>
    public const uint TypeNoBits = 8;
    /// <summary>SHT_RELA (gABI): relocations with explicit addends.</summary>
    public const uint TypeRela = 4;
    /// <summary>SHF_ALLOC (gABI): the section is mapped at run time.</summary>
    public const ulong FlagAlloc = 0x2;
    /// <summary>SHF_COMPRESSED (gABI, Linux include/uapi/linux/elf.h): data begins with an Elf64_Chdr.</summary>
    public const ulong FlagCompressed = 0x800;

    public bool HasFileData => Type != TypeNoBits;
    public bool IsCompressed => (Flags & FlagCompressed) != 0;
}
