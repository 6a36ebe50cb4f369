namespace Sonde.GoBinary;

/// <summary>
/// Finds the start of a Go program's text, the base every function address in
/// the pclntab is relative to, from the runtime's <c>moduledata</c> record.
/// Go 1.26 stopped recording it in the pclntab's header (the field is always 0
/// and carries no relocation; Go 1.26 release notes, Linker); the linker writes
/// it only into <c>moduledata.text</c>. A wrong base puts every uprobe at a wrong
/// address and corrupts the target's code, so a candidate is trusted only when
/// the whole record agrees with the pclntab it points to.
/// </summary>
/// <remarks>
/// The first fields of runtime.moduledata (Go src/runtime/symtab.go; the same
/// from go1.16 to go1.27), linux/amd64: pcHeader *pcHeader 0, funcnametab
/// []byte 8, cutab []uint32 32, filetab []byte 56, pctab []byte 80, pclntable
/// []byte 104, ftab []functab 128, findfunctab uintptr 152, minpc 160, maxpc 168,
/// text 176, etext 184. Where the record is looked for, in order: the
/// <c>.go.module</c> section (Go 1.26+ puts moduledata there alone), the
/// <c>runtime.firstmoduledata</c> symbol when <c>.symtab</c> survives, and a scan
/// of the writable segments for a word that points at the pclntab (a stripped
/// binary of an older layout). In a PIE the pointer fields are zero in the file
/// and filled at load time by R_X86_64_RELATIVE relocations (x86-64 psABI, type
/// 8), whose addends are the values.
/// </remarks>
internal sealed class ModuleData
{
    private const int PcHeader = 0, FuncnameTab = 8, Ftab = 128, FtabLen = 136, MinPc = 160, MaxPc = 168, Text = 176, Etext = 184;
    private const int Size = 192;

    /// <summary>Most candidates a scan checks before giving up (a real binary has one or two).</summary>
    private const int MaxCandidates = 64;

    private readonly ElfFile _elf;

    private ModuleData(ElfFile elf) => _elf = elf;

    /// <summary>What a candidate record must agree with: the pclntab's own numbers.</summary>
    internal readonly record struct Expect(ulong Pclntab, ulong FuncnameOffset, ulong FunctabOffset, ulong Nfunc, uint FirstEntry, uint LastEntry);

    /// <summary>moduledata.text, checked; throws when no record agrees with the pclntab.</summary>
    public static ulong TextStart(ElfFile elf, Expect expect)
    {
        var m = new ModuleData(elf);
        var tried = new List<string>();
        foreach (var (where, address) in m.Candidates(expect.Pclntab))
        {
            string? why = m.Check(address, expect, out ulong text);
            if (why is null)
                return text;
            tried.Add($"{where} at 0x{address:x}: {why}");
        }
        throw new GoBinaryException(tried.Count == 0
            ? "corrupt .gopclntab: no text start in its header, and no runtime moduledata points at it"
            : "corrupt .gopclntab: no text start in its header, and no runtime moduledata agrees with it (" + string.Join("; ", tried.Take(3)) + ")");
    }

    private List<(string Where, ulong Address)> Candidates(ulong pclntab)
    {
        var found = new List<(string, ulong)>();
        if (_elf.Section(".go.module") is { HasFileData: true } section)
            found.Add((".go.module", section.Address));
        if (SymbolValue("runtime.firstmoduledata") is { } symbol)
            found.Add(("runtime.firstmoduledata", symbol));
        foreach (var segment in _elf.LoadSegments)
        {
            if (!segment.IsWritable || segment.IsExecutable || !Bounds.Fits(_elf.Length, segment.Offset, segment.FileSize))
                continue;
            var data = _elf.Image.Slice((int)segment.Offset, (int)segment.FileSize);
            ulong first = (8 - segment.VirtualAddress % 8) % 8;
            for (ulong at = first; at + 8 <= (ulong)data.Length && found.Count < MaxCandidates; at += 8)
                if (Bounds.U64(data, at, "data segment") == pclntab)
                    found.Add(("a data word", segment.VirtualAddress + at));
        }
        foreach (var (at, value) in _elf.RelativeRelocations)
            if (value == pclntab && found.Count < MaxCandidates)
                found.Add(("a relocated word", at));
        return found;
    }

    private string? Check(ulong address, Expect e, out ulong text)
    {
        text = 0;
        if (!_elf.TryFileOffsetOf(address, out _) || !_elf.TryFileOffsetOf(address + Size - 1, out _))
            return "not in the file";
        if (Word(address + PcHeader) != e.Pclntab)
            return "pcHeader is not the pclntab";
        if (Word(address + FuncnameTab) != e.Pclntab + e.FuncnameOffset)
            return "funcnametab disagrees with the pclntab header";
        if (Word(address + Ftab) != e.Pclntab + e.FunctabOffset || Word(address + FtabLen) != e.Nfunc + 1)
            return "ftab disagrees with the pclntab header";
        text = Word(address + Text);
        ulong etext = Word(address + Etext);
        if (text == 0 || etext <= text)
            return "text is empty";
        if (Word(address + MinPc) != text + e.FirstEntry || Word(address + MaxPc) != text + e.LastEntry)
            return "minpc/maxpc disagree with the function table";
        var segment = _elf.SegmentContaining(text);
        if (segment is null || !segment.IsExecutable || !segment.ContainsFileBacked(etext - 1))
            return "text is not in an executable segment";
        if (_elf.Section(".text") is { } textSection && (text < textSection.Address || etext > textSection.Address + textSection.Size))
            return "text lies outside .text";
        return null;
    }

    /// <summary>The pointer-sized word at <paramref name="address"/>, or the addend of the relocation that fills it.</summary>
    private ulong Word(ulong address)
    {
        if (!_elf.TryFileOffsetOf(address, out long offset) || !Bounds.Fits(_elf.Length, (ulong)offset, 8))
            return 0;
        ulong value = Bounds.U64(_elf.Image, (ulong)offset, "moduledata");
        if (value == 0 && _elf.IsPositionIndependent && _elf.RelativeRelocations.TryGetValue(address, out ulong addend))
            return addend;
        return value;
    }

    /// <summary>The value of the <c>.symtab</c> symbol <paramref name="name"/>, or null. Elf64_Sym is 24 bytes: st_name u32, st_info, st_other, st_shndx u16, st_value u64, st_size u64 (gABI).</summary>
    private ulong? SymbolValue(string name)
    {
        var symtab = _elf.Section(".symtab");
        if (symtab is null || symtab.Link >= _elf.Sections.Count)
            return null;
        var symbols = _elf.SectionData(symtab);
        var strings = _elf.SectionData(_elf.Sections[(int)symtab.Link]);
        var wanted = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        for (int at = 24; at + 24 <= symbols.Length; at += 24)
        {
            uint nameOff = Bounds.U32(symbols, (ulong)at, ".symtab");
            if (nameOff < (uint)strings.Length && strings[(int)nameOff..].StartsWith(wanted))
                return Bounds.U64(symbols, (ulong)at + 8, ".symtab");
        }
        return null;
    }
}
