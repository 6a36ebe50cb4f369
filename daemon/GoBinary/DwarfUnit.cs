namespace Sonde.GoBinary;

/// <summary>
/// What reading a DIE needs from its unit header (DWARF 5 section 7.5.1;
/// DWARF 2–4 lay the same fields out in another order): sizes of addresses
/// and section offsets, the abbreviation table, where the unit ends, and the
/// DW_AT_str_offsets_base its root DIE gives for DW_FORM_strx.
/// </summary>
internal sealed class DwarfUnit
{
    public DwarfUnit(int version, int addressSize, int offsetSize, int end, Dictionary<ulong, DwarfAbbreviation> abbreviations)
    {
        Version = version;
        AddressSize = addressSize;
        OffsetSize = offsetSize;
        End = end;
        Abbreviations = abbreviations;
    }

    public int Version { get; }
    public int AddressSize { get; }
    /// <summary>4 in 32-bit DWARF, 8 in 64-bit DWARF.</summary>
    public int OffsetSize { get; }
    /// <summary>Offset in .debug_info just past the unit.</summary>
    public int End { get; }
    public Dictionary<ulong, DwarfAbbreviation> Abbreviations { get; }
    /// <summary>DWARF 5's default skips the 8-byte .debug_str_offsets header of a 32-bit contribution.</summary>
    public ulong StrOffsetsBase { get; set; } = 8;

    public DwarfAbbreviation Abbreviation(ulong code) =>
        Abbreviations.TryGetValue(code, out var abbreviation)
            ? abbreviation
            : throw new GoBinaryException($"corrupt DWARF: undefined abbreviation code {code}");
}
