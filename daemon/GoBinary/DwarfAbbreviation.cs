namespace Sonde.GoBinary;

/// <summary>
/// A .debug_abbrev entry: the tag, whether children follow, and the
/// attribute forms of every DIE that names its code (DWARF 5 section 7.5.3).
/// </summary>
internal sealed class DwarfAbbreviation
{
    private DwarfAbbreviation(ulong tag, bool hasChildren, DwarfAttributeSpec[] attributes)
    {
        Tag = tag;
        HasChildren = hasChildren;
        Attributes = attributes;
    }

    public ulong Tag { get; }
    public bool HasChildren { get; }
    public DwarfAttributeSpec[] Attributes { get; }

    /// <summary>DW_FORM_implicit_const (DWARF 5 Table 7.6): the only form with a value in the abbreviation.</summary>
    private const ulong FormImplicitConst = 0x21;

    /// <summary>
    /// The abbreviation table at <paramref name="offset"/>: code → entry,
    /// up to the terminating zero code. <paramref name="budget"/> is the
    /// bytes the caller still allows all tables together to consume.
    /// </summary>
    public static Dictionary<ulong, DwarfAbbreviation> ParseTable(ReadOnlySpan<byte> abbrev, ulong offset, ref long budget)
    {
        if (offset >= (ulong)abbrev.Length)
            throw new GoBinaryException($"corrupt DWARF: abbreviation table offset 0x{offset:x} is past the end of .debug_abbrev");
        var reader = new SpanReader(abbrev, ".debug_abbrev", (int)offset);
        var table = new Dictionary<ulong, DwarfAbbreviation>();
        var specs = new List<DwarfAttributeSpec>();
        while (true)
        {
            ulong code = reader.Uleb();
            if (code == 0)
                break;
            ulong tag = reader.Uleb();
            bool children = reader.U8() != 0;
            specs.Clear();
            while (true)
            {
                ulong name = reader.Uleb();
                ulong form = reader.Uleb();
                if (name == 0 && form == 0)
                    break;
                long implicitConst = form == FormImplicitConst ? reader.Sleb() : 0;
                specs.Add(new DwarfAttributeSpec(name, form, implicitConst));
            }
            if (!table.TryAdd(code, new DwarfAbbreviation(tag, children, specs.ToArray())))
                throw new GoBinaryException($"corrupt DWARF: abbreviation code {code} defined twice");
        }
        budget -= reader.Position - (long)offset;
        if (budget < 0)
            throw new GoBinaryException("corrupt DWARF: abbreviation tables are re-read far more than any compiler writes");
        return table;
    }
}
