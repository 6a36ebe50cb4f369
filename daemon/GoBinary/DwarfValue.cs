namespace Sonde.GoBinary;

/// <summary>
/// One attribute value as read from a DIE: a number (constants, flags,
/// references, offsets and indexes into string tables), a block (exprloc,
/// blockN), or an inline string. Which table a number points into is
/// <see cref="Kind"/>. Form codes and sizes are DWARF 5 section 7.5.6
/// (Table 7.6), plus the GNU extensions binutils documents in
/// include/dwarf2.def (DW_FORM_GNU_*).
/// </summary>
internal readonly ref struct DwarfValue
{
    public enum ValueKind { Number, Block, InlineString, StrOffset, LineStrOffset, StrIndex }

    private DwarfValue(ValueKind kind, ulong number, ReadOnlySpan<byte> bytes)
    {
        Kind = kind;
        Number = number;
        Bytes = bytes;
    }

    public ValueKind Kind { get; }
    public ulong Number { get; }
    public ReadOnlySpan<byte> Bytes { get; }

    private static DwarfValue Num(ulong n) => new(ValueKind.Number, n, default);

    public static DwarfValue Read(ref SpanReader r, DwarfAttributeSpec spec, DwarfUnit unit) =>
        Read(ref r, spec.Form, spec.ImplicitConst, unit, allowIndirect: true);

    private static DwarfValue Read(ref SpanReader r, ulong form, long implicitConst, DwarfUnit unit, bool allowIndirect)
    {
        switch (form)
        {
            case 0x01: return Num(r.Unsigned(unit.AddressSize));              // addr
            case 0x03: return new(ValueKind.Block, 0, r.Bytes(r.U16()));       // block2
            case 0x04: return new(ValueKind.Block, 0, r.Bytes(r.U32()));       // block4
            case 0x05: return Num(r.U16());                                    // data2
            case 0x06: return Num(r.U32());                                    // data4
            case 0x07: return Num(r.U64());                                    // data8
            case 0x08: return new(ValueKind.InlineString, 0, r.CString());     // string
            case 0x09: return new(ValueKind.Block, 0, r.Bytes(r.Uleb()));      // block
            case 0x0a: return new(ValueKind.Block, 0, r.Bytes(r.U8()));        // block1
            case 0x0b: return Num(r.U8());                                     // data1
            case 0x0c: return Num(r.U8());                                     // flag
            case 0x0d: return Num((ulong)r.Sleb());                            // sdata
            case 0x0e: return new(ValueKind.StrOffset, r.Unsigned(unit.OffsetSize), default);   // strp
            case 0x0f: return Num(r.Uleb());                                   // udata
            case 0x10: return Num(r.Unsigned(unit.Version == 2 ? unit.AddressSize : unit.OffsetSize)); // ref_addr
            case 0x11: return Num(r.U8());                                     // ref1
            case 0x12: return Num(r.U16());                                    // ref2
            case 0x13: return Num(r.U32());                                    // ref4
            case 0x14: return Num(r.U64());                                    // ref8
            case 0x15: return Num(r.Uleb());                                   // ref_udata
            case 0x16:                                                         // indirect: the form is in the DIE
                if (!allowIndirect)
                    throw new GoBinaryException("corrupt DWARF: DW_FORM_indirect names DW_FORM_indirect");
                return Read(ref r, r.Uleb(), implicitConst, unit, allowIndirect: false);
            case 0x17: return Num(r.Unsigned(unit.OffsetSize));                // sec_offset
            case 0x18: return new(ValueKind.Block, 0, r.Bytes(r.Uleb()));      // exprloc
            case 0x19: return Num(1);                                          // flag_present
            case 0x1a: return new(ValueKind.StrIndex, r.Uleb(), default);      // strx
            case 0x1b: return Num(r.Uleb());                                   // addrx
            case 0x1c: return Num(r.U32());                                    // ref_sup4
            case 0x1d: return Num(r.Unsigned(unit.OffsetSize));                // strp_sup
            case 0x1e: return new(ValueKind.Block, 0, r.Bytes(16));            // data16
            case 0x1f: return new(ValueKind.LineStrOffset, r.Unsigned(unit.OffsetSize), default); // line_strp
            case 0x20: return Num(r.U64());                                    // ref_sig8
            case 0x21: return Num((ulong)implicitConst);                       // implicit_const
            case 0x22: return Num(r.Uleb());                                   // loclistx
            case 0x23: return Num(r.Uleb());                                   // rnglistx
            case 0x24: return Num(r.U64());                                    // ref_sup8
            case 0x25: return new(ValueKind.StrIndex, r.U8(), default);        // strx1
            case 0x26: return new(ValueKind.StrIndex, r.U16(), default);       // strx2
            case 0x27: return new(ValueKind.StrIndex, U24(ref r), default);    // strx3
            case 0x28: return new(ValueKind.StrIndex, r.U32(), default);       // strx4
            case 0x29: return Num(r.U8());                                     // addrx1
            case 0x2a: return Num(r.U16());                                    // addrx2
            case 0x2b: return Num(U24(ref r));                                 // addrx3
            case 0x2c: return Num(r.U32());                                    // addrx4
            case 0x1f01: return Num(r.Uleb());                                 // GNU_addr_index
            case 0x1f02: return new(ValueKind.StrIndex, r.Uleb(), default);    // GNU_str_index
            case 0x1f20: return Num(r.Unsigned(unit.OffsetSize));              // GNU_ref_alt
            case 0x1f21: return Num(r.Unsigned(unit.OffsetSize));              // GNU_strp_alt (.gnu_debugaltlink; not followed)
            default:
                throw new GoBinaryException($"corrupt DWARF: unknown attribute form 0x{form:x}");
        }
    }

    private static ulong U24(ref SpanReader r)
    {
        ulong lo = r.U16();
        return lo | (ulong)r.U8() << 16;
    }
}
