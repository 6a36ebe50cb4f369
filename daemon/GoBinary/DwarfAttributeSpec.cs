namespace Sonde.GoBinary;

/// <summary>
/// One (attribute, form) pair of a DWARF abbreviation; forms are DWARF 5
/// section 7.5.6 Table 7.6. <see cref="ImplicitConst"/> holds the value of a
/// DW_FORM_implicit_const, which lives in the abbreviation, not the DIE.
/// </summary>
internal readonly record struct DwarfAttributeSpec(ulong Name, ulong Form, long ImplicitConst);
