namespace Sonde.GoBinary;

/// <summary>
/// The function table of a Go program, read from its <c>.gopclntab</c>
/// section, which the Go linker writes for the runtime's own use (stack
/// traces, GC) and which therefore survives <c>strip</c> and
/// <c>-ldflags="-s -w"</c>. Reads the Go 1.16 (magic 0xfffffffa), 1.18
/// (0xfffffff0) and 1.20+ (0xfffffff1, the newest Go's debug/gosym knows) layouts, as
/// described by Go's src/debug/gosym/pclntab.go (parsePclnTab, funcTab,
/// funcData) and src/runtime/symtab.go (pcHeader, functab, _func).
/// </summary>
public sealed class Pclntab
{
    /// <summary>Magic numbers at the start of the table (Go src/debug/gosym/pclntab.go).</summary>
    public const uint Magic12 = 0xfffffffb, Magic116 = 0xfffffffa, Magic118 = 0xfffffff0, Magic120 = 0xfffffff1;

    /// <summary>
    /// More functions than any real program has (large Kubernetes binaries
    /// have ~100k): a table claiming more is refused rather than allocated.
    /// </summary>
    public const int MaxFunctions = 2_000_000;

    /// <summary>Longest function name accepted (generic instantiations run to a few hundred bytes).</summary>
    private const int MaxNameLength = 16 * 1024;

    private readonly GoFunction[] _functions;
    private readonly Dictionary<string, GoFunction> _byName;

    private Pclntab(uint magic, ulong textStart, GoFunction[] functions)
    {
        Magic = magic;
        TextStart = textStart;
        _functions = functions;
        _byName = new Dictionary<string, GoFunction>(functions.Length, StringComparer.Ordinal);
        foreach (var f in functions)
            _byName.TryAdd(f.Name, f);
    }

    /// <summary>The table's magic: which Go versions' layout it has.</summary>
    public uint Magic { get; }
    /// <summary>runtime.text, the base function entries are relative to (Go 1.18+; from moduledata since Go 1.26); 0 before.</summary>
    public ulong TextStart { get; }
    /// <summary>All functions, sorted by entry address.</summary>
    public IReadOnlyList<GoFunction> Functions => _functions;

    /// <summary>The function called <paramref name="name"/> (e.g. <c>net/http.serverHandler.ServeHTTP</c>), or null.</summary>
    public GoFunction? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The function whose [Entry, End) holds <paramref name="address"/>, or null.</summary>
    public GoFunction? FindByAddress(ulong address)
    {
        int lo = 0, hi = _functions.Length - 1;
        while (lo <= hi)
        {
            int mid = lo + (hi - lo) / 2;
            var f = _functions[mid];
            if (address < f.Entry)
                hi = mid - 1;
            else if (address >= f.End)
                lo = mid + 1;
            else
                return f;
        }
        return null;
    }

    /// <summary>
    /// The section holding the table: <c>.gopclntab</c>, or
    /// <c>.data.rel.ro.gopclntab</c> in PIE builds (Go src/cmd/internal/objfile/elf.go).
    /// </summary>
    public static ElfSection? FindSection(ElfFile elf)
    {
        ArgumentNullException.ThrowIfNull(elf);
        return elf.Section(".gopclntab") ?? elf.Section(".data.rel.ro.gopclntab");
    }

    public static Pclntab Parse(ElfFile elf)
    {
        var section = FindSection(elf)
            ?? throw new GoBinaryException("not a Go program: no .gopclntab section") { Reason = "not_a_go_binary" };
        var data = elf.SectionData(section);
        const string what = ".gopclntab";
        if (data.Length < 8)
            throw new GoBinaryException("truncated .gopclntab: shorter than its 8-byte header");

        // Header: magic u32, two zero bytes, PC quantum (1 on x86), pointer size.
        uint magic = Bounds.U32(data, 0, what);
        if (magic == Magic12)
            throw new GoBinaryException("built with Go 1.2–1.15 (pclntab magic 0xfffffffb); Sonde needs Go 1.16 or newer") { Reason = "old_go_version" };
        if (magic != Magic116 && magic != Magic118 && magic != Magic120)
            throw new GoBinaryException($"a .gopclntab magic (0x{magic:x8}) this Sonde does not know: a Go newer than 1.27, or not a Go program") { Reason = "unknown_go_version" };
        if (data[4] != 0 || data[5] != 0 || (data[6] != 1 && data[6] != 2 && data[6] != 4))
            throw new GoBinaryException("corrupt .gopclntab header");
        if (data[7] != 8)
            throw new GoBinaryException($"a .gopclntab with {data[7]}-byte pointers: Sonde traces 64-bit programs only") { Reason = "unsupported_architecture" };

        // Header words after the first 8 bytes (runtime/symtab.go pcHeader):
        //   1.16:  nfunc, nfiles, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
        //   1.18+: nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
        bool relative = magic != Magic116;
        ulong nfunc = HeaderWord(data, 0);
        ulong textStart = relative ? HeaderWord(data, 2) : 0;
        ulong funcnameOffset = HeaderWord(data, relative ? 3 : 2);
        ulong functabOffset = HeaderWord(data, relative ? 7 : 6);

        if (nfunc > MaxFunctions)
            throw new GoBinaryException($"corrupt .gopclntab: it claims {nfunc} functions (more than {MaxFunctions})");
        int fieldSize = relative ? 4 : 8;   // functab fields: u32 offsets since 1.18, uintptr before
        ulong functabSize = (nfunc * 2 + 1) * (ulong)fieldSize;
        var functab = Bounds.Slice(data, functabOffset, functabSize, ".gopclntab function table");
        if (funcnameOffset > (ulong)data.Length)
            throw new GoBinaryException("truncated .gopclntab: function name table offset past its end");
        var funcnames = data[(int)funcnameOffset..];
        // _func records are addressed relative to the function table (runtime/symtab.go moduledata.pclntable).
        var funcdata = data[(int)functabOffset..];

        bool hasModuleSection = elf.Section(".go.module") is not null;
        if (relative && (textStart == 0 || hasModuleSection))
        {
            // Go 1.18-1.25 PIE: the header's field is zero in the file and an R_X86_64_RELATIVE
            // relocation fills it (gosym reads runtime.text for that reason). Go 1.26+ (moduledata
            // in .go.module): the field is unused, only moduledata.text counts, and a header that
            // says otherwise is corrupt.
            ulong header = textStart;
            textStart = 0;
            if (!hasModuleSection)
                elf.RelativeRelocations.TryGetValue(section.Address + 8 + 2 * 8, out textStart);
            if (textStart == 0)
                textStart = ModuleData.TextStart(elf, new ModuleData.Expect(section.Address, funcnameOffset, functabOffset, nfunc,
                    FirstEntry: Bounds.U32(functab, 0, ".gopclntab function table"),
                    LastEntry: Bounds.U32(functab, nfunc * 2 * 4, ".gopclntab function table")));
            if (header != 0 && header != textStart)
                throw new GoBinaryException($"corrupt .gopclntab: its header says the text starts at 0x{header:x}, its moduledata at 0x{textStart:x}");
        }

        // A hostile table can point every name into one long run of non-NUL bytes; cap the
        // total work at a few times the table's size (real names are read once each).
        long nameBudget = 4L * data.Length + (1 << 20);
        var names = new Dictionary<uint, string>();
        var functions = new GoFunction[nfunc];
        ulong entry = FunctabField(functab, 0, relative, textStart);
        for (int i = 0; i < (int)nfunc; i++)
        {
            ulong end = FunctabField(functab, (ulong)(i + 1) * 2, relative, textStart);
            if (end < entry)
                throw new GoBinaryException($"corrupt .gopclntab: function table out of order at entry {i}");
            ulong funcOff = FunctabField(functab, (ulong)i * 2 + 1, relative, 0);
            // _func starts with the entry (u32 offset from textStart since 1.18, uintptr before), then nameOff int32.
            ulong funcEntry = relative
                ? textStart + Bounds.U32(funcdata, funcOff, ".gopclntab function record")
                : Bounds.U64(funcdata, funcOff, ".gopclntab function record");
            if (funcEntry != entry)
                throw new GoBinaryException($"corrupt .gopclntab: function record {i} disagrees with the function table");
            uint nameOff = Bounds.U32(funcdata, funcOff + (ulong)fieldSize, ".gopclntab function record");
            if (!names.TryGetValue(nameOff, out var name))
            {
                name = Bounds.CString(funcnames, nameOff, MaxNameLength, ".gopclntab function names");
                nameBudget -= name.Length + 1;
                if (nameBudget < 0)
                    throw new GoBinaryException("corrupt .gopclntab: function names overlap far more than any Go linker writes");
                names.Add(nameOff, name);
            }
            // _func: entry, nameOff int32, args int32 (runtime/runtime2.go).
            int args = (int)Bounds.U32(funcdata, funcOff + (ulong)fieldSize + 4, ".gopclntab function record");
            functions[i] = new GoFunction(name, entry, end) { ArgBytes = args };
            entry = end;
        }
        return new Pclntab(magic, textStart, functions);
    }

    private static ulong HeaderWord(ReadOnlySpan<byte> data, int i) =>
        Bounds.U64(data, 8 + 8 * (ulong)i, ".gopclntab header");

    /// <summary>
    /// Field <paramref name="index"/> of the function table: alternately a
    /// PC (an offset from <paramref name="textStart"/> since Go 1.18) and the
    /// offset of the function's _func record.
    /// </summary>
    private static ulong FunctabField(ReadOnlySpan<byte> functab, ulong index, bool relative, ulong textStart) =>
        relative
            ? textStart + Bounds.U32(functab, index * 4, ".gopclntab function table")
            : Bounds.U64(functab, index * 8, ".gopclntab function table");
}
