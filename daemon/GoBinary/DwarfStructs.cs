using System.Collections.Concurrent;
using System.Text;

namespace Sonde.GoBinary;

/// <summary>
/// Struct field offsets from a program's DWARF, for the structs Sonde's BPF
/// code reads (runtime.g, net/http.Request, net/url.URL, gin.Context, ...).
/// Go names struct types by their full path ("net/http.Request",
/// "github.com/gin-gonic/gin.Context") and gives every member a constant
/// DW_AT_data_member_location (Go src/cmd/internal/dwarf/dwarf.go,
/// DW_ABRV_STRUCTTYPE / DW_ABRV_STRUCTFIELD). Loading walks .debug_info once
/// and remembers only where each struct type is; members are read when asked.
/// Go 1.19 writes DWARF 4 in zlib-compressed sections; DWARF 2–5 are read.
/// </summary>
public sealed class DwarfStructs
{
    private const ulong TagStructureType = 0x13, TagMember = 0x0d;        // DWARF 5 Table 7.3
    private const ulong AtName = 0x03, AtByteSize = 0x0b, AtDataMemberLocation = 0x38, AtStrOffsetsBase = 0x72; // Table 7.5
    private const byte OpConstU = 0x10, OpPlusUConst = 0x23;              // Table 7.9
    private const int MaxNameLength = 64 * 1024;

    private readonly ElfFile _elf;
    private readonly ElfSection _info;
    private readonly ElfSection? _str, _lineStr, _strOffsets;
    private readonly List<DwarfUnit> _units;
    private readonly Dictionary<string, (int DieOffset, int Unit)> _structs;
    private readonly ConcurrentDictionary<string, (IReadOnlyDictionary<string, int> Fields, int? Size)> _members = new(StringComparer.Ordinal);

    private DwarfStructs(ElfFile elf, ElfSection info, ElfSection? str, ElfSection? lineStr, ElfSection? strOffsets,
        List<DwarfUnit> units, Dictionary<string, (int, int)> structs)
    {
        _elf = elf;
        _info = info;
        _str = str;
        _lineStr = lineStr;
        _strOffsets = strOffsets;
        _units = units;
        _structs = structs;
    }

    /// <summary>How many named struct types the DWARF describes.</summary>
    public int StructCount => _structs.Count;

    public bool HasStruct(string structName) => _structs.ContainsKey(structName);

    /// <summary>
    /// The struct types of <paramref name="elf"/>'s DWARF, or null when it
    /// has none (stripped, <c>-ldflags=-w</c>). Corrupt DWARF throws
    /// <see cref="GoBinaryException"/>.
    /// </summary>
    public static DwarfStructs? TryLoad(ElfFile elf)
    {
        ArgumentNullException.ThrowIfNull(elf);
        var info = DebugSection(elf, "info");
        var abbrev = DebugSection(elf, "abbrev");
        if (info is null || abbrev is null || !info.HasFileData || info.Size == 0)
            return null;
        var str = DebugSection(elf, "str");
        var lineStr = DebugSection(elf, "line_str");
        var strOffsets = DebugSection(elf, "str_offsets");

        var infoData = elf.SectionData(info);
        var abbrevData = elf.SectionData(abbrev);
        var units = new List<DwarfUnit>();
        var structs = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        var tables = new Dictionary<ulong, Dictionary<ulong, DwarfAbbreviation>>();
        long abbrevBudget = 16L * abbrevData.Length + (1 << 20);
        var self = new DwarfStructs(elf, info, str, lineStr, strOffsets, units, structs);

        int at = 0;
        while (at < infoData.Length)
        {
            var unit = ReadUnitHeader(infoData, ref at, abbrevData, tables, ref abbrevBudget);
            units.Add(unit);
            self.IndexUnit(infoData, unit, units.Count - 1, at);
            at = unit.End;
        }
        return self;
    }

    /// <summary>.debug_NAME, or GNU's compressed .zdebug_NAME.</summary>
    private static ElfSection? DebugSection(ElfFile elf, string name) =>
        elf.Section(".debug_" + name) ?? elf.Section(".zdebug_" + name);

    /// <summary>
    /// Reads a unit header at <paramref name="at"/> (DWARF 5 section 7.5.1.1:
    /// unit_length, version, then unit_type, address_size, abbrev offset in
    /// v5 or abbrev offset, address_size in v2–4) and leaves <paramref name="at"/>
    /// at its first DIE.
    /// </summary>
    private static DwarfUnit ReadUnitHeader(ReadOnlySpan<byte> info, ref int at,
        ReadOnlySpan<byte> abbrev, Dictionary<ulong, Dictionary<ulong, DwarfAbbreviation>> tables, ref long abbrevBudget)
    {
        var r = new SpanReader(info, ".debug_info unit header", at);
        ulong length = r.U32();
        int offsetSize = 4;
        if (length == 0xffffffff)
        {
            length = r.U64();
            offsetSize = 8;
        }
        else if (length >= 0xfffffff0)
        {
            throw new GoBinaryException($"corrupt DWARF: reserved unit length 0x{length:x} at 0x{at:x}");
        }
        if (length > (ulong)r.Remaining)
            throw new GoBinaryException($"truncated .debug_info: the unit at 0x{at:x} claims 0x{length:x} bytes");
        int end = r.Position + (int)length;
        var unitReader = new SpanReader(info[..end], ".debug_info unit header", r.Position);
        int version = unitReader.U16();
        ulong abbrevOffset;
        int addressSize;
        if (version == 5)
        {
            byte unitType = unitReader.U8();
            addressSize = unitReader.U8();
            abbrevOffset = unitReader.Unsigned(offsetSize);
            switch (unitType)
            {
                case 1: case 3: break;                                  // DW_UT_compile, DW_UT_partial
                case 2: case 6: unitReader.Skip(8 + (ulong)offsetSize); break; // DW_UT_type, DW_UT_split_type
                case 4: case 5: unitReader.Skip(8); break;              // DW_UT_skeleton, DW_UT_split_compile
                default: throw new GoBinaryException($"corrupt DWARF: unknown unit type {unitType} at 0x{at:x}");
            }
        }
        else if (version is >= 2 and <= 4)
        {
            abbrevOffset = unitReader.Unsigned(offsetSize);
            addressSize = unitReader.U8();
        }
        else
        {
            throw new GoBinaryException($"unsupported DWARF version {version} in the unit at 0x{at:x}");
        }
        if (addressSize != 4 && addressSize != 8)
            throw new GoBinaryException($"corrupt DWARF: address size {addressSize} in the unit at 0x{at:x}");
        if (!tables.TryGetValue(abbrevOffset, out var table))
        {
            table = DwarfAbbreviation.ParseTable(abbrev, abbrevOffset, ref abbrevBudget);
            tables.Add(abbrevOffset, table);
        }
        at = unitReader.Position;
        return new DwarfUnit(version, addressSize, offsetSize, end, table);
    }

    /// <summary>Walks the unit's DIEs, remembering every named structure type; skips all else.</summary>
    private void IndexUnit(ReadOnlySpan<byte> info, DwarfUnit unit, int unitIndex, int firstDie)
    {
        var r = new SpanReader(info[..unit.End], ".debug_info", firstDie);
        bool root = true;
        while (!r.AtEnd)
        {
            int dieOffset = r.Position;
            ulong code = r.Uleb();
            if (code == 0)
                continue; // end of a sibling chain (or padding)
            var abbreviation = unit.Abbreviation(code);
            if (abbreviation.Tag == TagStructureType)
            {
                string? name = null;
                foreach (var spec in abbreviation.Attributes)
                {
                    var value = DwarfValue.Read(ref r, spec, unit);
                    if (spec.Name == AtName)
                        name = StringValue(value, unit);
                }
                if (name is not null)
                    _structs.TryAdd(name, (dieOffset, unitIndex));
            }
            else if (root)
            {
                foreach (var spec in abbreviation.Attributes)
                {
                    var value = DwarfValue.Read(ref r, spec, unit);
                    if (spec.Name == AtStrOffsetsBase)
                        unit.StrOffsetsBase = value.Number;
                }
            }
            else
            {
                foreach (var spec in abbreviation.Attributes)
                    DwarfValue.Read(ref r, spec, unit);
            }
            root = false;
        }
    }

    /// <summary>
    /// The byte offset of <paramref name="fieldName"/> in struct type
    /// <paramref name="structName"/> (e.g. ("runtime.g", "goid")), or null
    /// when either is unknown.
    /// </summary>
    public int? FieldOffset(string structName, string fieldName)
    {
        var members = Members(structName);
        return members is not null && members.Value.Fields.TryGetValue(fieldName, out int offset) ? offset : null;
    }

    /// <summary>Every field of <paramref name="structName"/> with its offset, or null when the struct is unknown.</summary>
    public IReadOnlyDictionary<string, int>? Fields(string structName) => Members(structName)?.Fields;

    /// <summary>The struct's DW_AT_byte_size, or null when unknown.</summary>
    public int? StructSize(string structName) => Members(structName)?.Size;

    private (IReadOnlyDictionary<string, int> Fields, int? Size)? Members(string structName)
    {
        ArgumentNullException.ThrowIfNull(structName);
        if (!_structs.TryGetValue(structName, out var location))
            return null;
        return _members.GetOrAdd(structName, _ => ReadMembers(location.DieOffset, _units[location.Unit]));
    }

    private (IReadOnlyDictionary<string, int>, int?) ReadMembers(int dieOffset, DwarfUnit unit)
    {
        var info = _elf.SectionData(_info);
        var r = new SpanReader(info[..unit.End], ".debug_info", dieOffset);
        var fields = new Dictionary<string, int>(StringComparer.Ordinal);
        int? size = null;
        var structure = unit.Abbreviation(r.Uleb());
        foreach (var spec in structure.Attributes)
        {
            var value = DwarfValue.Read(ref r, spec, unit);
            if (spec.Name == AtByteSize && value.Kind == DwarfValue.ValueKind.Number && value.Number <= int.MaxValue)
                size = (int)value.Number;
        }
        if (!structure.HasChildren)
            return (fields, size);

        int depth = 1;
        while (depth > 0 && !r.AtEnd)
        {
            ulong code = r.Uleb();
            if (code == 0)
            {
                depth--;
                continue;
            }
            var abbreviation = unit.Abbreviation(code);
            bool member = depth == 1 && abbreviation.Tag == TagMember;
            string? name = null;
            long offset = -1;
            foreach (var spec in abbreviation.Attributes)
            {
                var value = DwarfValue.Read(ref r, spec, unit);
                if (!member)
                    continue;
                if (spec.Name == AtName)
                    name = StringValue(value, unit);
                else if (spec.Name == AtDataMemberLocation)
                    offset = MemberLocation(value);
            }
            if (member && name is not null && offset is >= 0 and <= int.MaxValue)
                fields.TryAdd(name, (int)offset);
            if (abbreviation.HasChildren)
                depth++;
        }
        return (fields, size);
    }

    /// <summary>
    /// DW_AT_data_member_location as a constant (current Go writes
    /// DW_FORM_udata) or as a one-operation expression: DW_OP_plus_uconst N
    /// (older Go wrote DW_FORM_block1 so, per the DW_ABRV_STRUCTFIELD entry of
    /// Go src/cmd/internal/dwarf/dwarf.go in those releases; C compilers too)
    /// or DW_OP_constu N; -1 for anything else.
    /// </summary>
    private static long MemberLocation(DwarfValue value)
    {
        if (value.Kind == DwarfValue.ValueKind.Number)
            return value.Number <= long.MaxValue ? (long)value.Number : -1;
        if (value.Kind != DwarfValue.ValueKind.Block || value.Bytes.IsEmpty)
            return -1;
        if (value.Bytes[0] != OpPlusUConst && value.Bytes[0] != OpConstU)
            return -1;
        var r = new SpanReader(value.Bytes, "DW_AT_data_member_location", 1);
        ulong n = r.Uleb();
        return r.AtEnd && n <= long.MaxValue ? (long)n : -1;
    }

    private string? StringValue(DwarfValue value, DwarfUnit unit)
    {
        switch (value.Kind)
        {
            case DwarfValue.ValueKind.InlineString:
                return Encoding.UTF8.GetString(value.Bytes);
            case DwarfValue.ValueKind.StrOffset:
                return Bounds.CString(Section(_str, ".debug_str"), value.Number, MaxNameLength, ".debug_str");
            case DwarfValue.ValueKind.LineStrOffset:
                return Bounds.CString(Section(_lineStr, ".debug_line_str"), value.Number, MaxNameLength, ".debug_line_str");
            case DwarfValue.ValueKind.StrIndex:
            {
                var offsets = Section(_strOffsets, ".debug_str_offsets");
                if (value.Number > (ulong)offsets.Length)
                    throw new GoBinaryException($"corrupt DWARF: string index {value.Number} is past .debug_str_offsets");
                ulong at = unit.StrOffsetsBase + value.Number * (ulong)unit.OffsetSize;
                ulong offset = unit.OffsetSize == 8
                    ? Bounds.U64(offsets, at, ".debug_str_offsets")
                    : Bounds.U32(offsets, at, ".debug_str_offsets");
                return Bounds.CString(Section(_str, ".debug_str"), offset, MaxNameLength, ".debug_str");
            }
            default:
                return null;
        }
    }

    private ReadOnlySpan<byte> Section(ElfSection? section, string name) =>
        section is null
            ? throw new GoBinaryException($"corrupt DWARF: a string refers to {name}, which the file does not have")
            : _elf.SectionData(section);
}
