using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Compression;

namespace Sonde.GoBinary;

/// <summary>
/// A 64-bit little-endian ELF image held in memory: its sections (by name,
/// compressed ones inflated on demand with a size cap), its PT_LOAD segments,
/// and the mapping from virtual addresses to file offsets that uprobes are
/// attached by. The image is a private byte array, never an mmap: a mapped
/// file that its owner truncates raises SIGBUS, which would kill the daemon.
/// Layouts are the System V gABI's Elf64_Ehdr/Shdr/Phdr/Chdr
/// (Linux include/uapi/linux/elf.h).
/// </summary>
public sealed class ElfFile
{
    /// <summary>The most one compressed section may inflate to.</summary>
    public const long MaxInflatedSectionSize = 256L << 20;

    /// <summary>The most all compressed sections of one file may inflate to together.</summary>
    public const long MaxInflatedTotalSize = 512L << 20;

    /// <summary>
    /// Deflate cannot compress better than about 1032:1 (zlib's technical
    /// notes, "Maximum compression factor"): a header claiming more is a lie.
    /// </summary>
    private const long DeflateMaxRatio = 1032;

    private const ushort TypeExec = 2, TypeDyn = 3;   // e_type ET_EXEC, ET_DYN
    private const uint ProgramLoad = 1;               // p_type PT_LOAD
    private const int HeaderSize = 64, SectionHeaderSize = 64, ProgramHeaderSize = 56;
    private const uint CompressZlib = 1, CompressZstd = 2;  // Elf64_Chdr.ch_type
    private const int CompressionHeaderSize = 24;           // sizeof(Elf64_Chdr)

    private readonly byte[] _image;
    private readonly Dictionary<string, ElfSection> _sectionsByName;
    private readonly ConcurrentDictionary<int, byte[]> _inflated = new();
    private readonly Lazy<Dictionary<ulong, ulong>> _relative;
    private long _inflatedTotal;

    private ElfFile(byte[] image, ushort type, ushort machine, ulong entry,
        IReadOnlyList<ElfSection> sections, IReadOnlyList<ElfSegment> loadSegments)
    {
        _image = image;
        _relative = new Lazy<Dictionary<ulong, ulong>>(ReadRelativeRelocations);
        Type = type;
        Machine = machine;
        Entry = entry;
        Sections = sections;
        LoadSegments = loadSegments;
        _sectionsByName = new Dictionary<string, ElfSection>(StringComparer.Ordinal);
        foreach (var section in sections)
            _sectionsByName.TryAdd(section.Name, section);
    }

    /// <summary>EM_X86_64 (gABI machine number 62).</summary>
    public const ushort MachineX86_64 = 62;

    /// <summary>e_type: 2 for ET_EXEC, 3 for ET_DYN (PIE or shared object).</summary>
    public ushort Type { get; }
    /// <summary>e_machine: 62 for x86-64.</summary>
    public ushort Machine { get; }
    public ulong Entry { get; }
    /// <summary>ET_DYN: loaded at a random base, so probe by file offset, never by address.</summary>
    public bool IsPositionIndependent => Type == TypeDyn;
    public IReadOnlyList<ElfSection> Sections { get; }
    public IReadOnlyList<ElfSegment> LoadSegments { get; }
    public int Length => _image.Length;
    public ReadOnlySpan<byte> Image => _image;

    public static ElfFile Parse(byte[] image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Length == 0)
            throw new GoBinaryException("not an ELF file: the file is empty") { Reason = "not_a_go_binary" };
        if (image.Length < 4 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
            throw new GoBinaryException("not an ELF file") { Reason = "not_a_go_binary" };
        if (image.Length < 16)
            throw new GoBinaryException("truncated ELF header");
        // e_ident[EI_CLASS] at 4: 1 = ELFCLASS32, 2 = ELFCLASS64; e_ident[EI_DATA] at 5: 1 = little-endian.
        switch (image[4])
        {
            case 1: throw new GoBinaryException("a 32-bit ELF file: Sonde traces 64-bit x86-64 programs only") { Reason = "unsupported_architecture" };
            case 2: break;
            default: throw new GoBinaryException($"not a valid ELF file: unknown class {image[4]}");
        }
        if (image[5] != 1)
            throw new GoBinaryException("a big-endian ELF file: Sonde traces little-endian x86-64 programs only") { Reason = "unsupported_architecture" };
        if (image.Length < HeaderSize)
            throw new GoBinaryException("truncated ELF header");

        ReadOnlySpan<byte> h = image;
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(h[16..]);
        ushort machine = BinaryPrimitives.ReadUInt16LittleEndian(h[18..]);
        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(h[24..]);
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(h[32..]);
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(h[40..]);
        ushort phentsize = BinaryPrimitives.ReadUInt16LittleEndian(h[54..]);
        ulong phnum = BinaryPrimitives.ReadUInt16LittleEndian(h[56..]);
        ushort shentsize = BinaryPrimitives.ReadUInt16LittleEndian(h[58..]);
        ulong shnum = BinaryPrimitives.ReadUInt16LittleEndian(h[60..]);
        uint shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(h[62..]);
        if (type != TypeExec && type != TypeDyn)
            throw new GoBinaryException($"not an executable: ELF type {type} (expected ET_EXEC or ET_DYN)");

        var sections = ParseSections(h, shoff, shentsize, ref shnum, ref shstrndx, out uint extendedPhnum);
        if (phnum == 0xffff && extendedPhnum != 0) // PN_XNUM: the real count is in section 0's sh_info.
            phnum = extendedPhnum;
        var segments = ParseLoadSegments(h, phoff, phentsize, phnum);
        return new ElfFile(image, type, machine, entry, sections, segments);
    }

    private static List<ElfSection> ParseSections(ReadOnlySpan<byte> image, ulong shoff, ushort shentsize,
        ref ulong shnum, ref uint shstrndx, out uint extendedPhnum)
    {
        extendedPhnum = 0;
        var sections = new List<ElfSection>();
        if (shoff == 0)
            return sections;
        if (shentsize != SectionHeaderSize)
            throw new GoBinaryException($"not a valid ELF file: section header size {shentsize} (expected 64)");
        // Section 0 carries the real counts when they do not fit the ELF header (gABI "Extended Section Numbering").
        var first = Bounds.Slice(image, shoff, SectionHeaderSize, "ELF section header table");
        if (shnum == 0)
            shnum = BinaryPrimitives.ReadUInt64LittleEndian(first[32..]);
        if (shstrndx == 0xffff) // SHN_XINDEX
            shstrndx = BinaryPrimitives.ReadUInt32LittleEndian(first[40..]);
        extendedPhnum = BinaryPrimitives.ReadUInt32LittleEndian(first[44..]);
        if (shnum > ((ulong)image.Length - shoff) / SectionHeaderSize)
            throw new GoBinaryException(
                $"truncated ELF section header table: {shnum} headers at 0x{shoff:x} do not fit in a file of 0x{image.Length:x} bytes");

        var table = image.Slice((int)shoff, (int)shnum * SectionHeaderSize);
        ReadOnlySpan<byte> names = default;
        if (shstrndx != 0)
        {
            if (shstrndx >= shnum)
                throw new GoBinaryException($"not a valid ELF file: section name table index {shstrndx} of {shnum}");
            var sh = table.Slice((int)shstrndx * SectionHeaderSize, SectionHeaderSize);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(sh[24..]);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(sh[32..]);
            names = Bounds.Slice(image, offset, size, "ELF section name table");
        }

        sections.Capacity = (int)shnum;
        for (int i = 0; i < (int)shnum; i++)
        {
            var sh = table.Slice(i * SectionHeaderSize, SectionHeaderSize);
            uint nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(sh);
            string name = names.IsEmpty ? "" : Bounds.CString(names, nameOffset, 4096, "ELF section name table");
            sections.Add(new ElfSection(
                Index: i,
                Name: name,
                Type: BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]),
                Flags: BinaryPrimitives.ReadUInt64LittleEndian(sh[8..]),
                Address: BinaryPrimitives.ReadUInt64LittleEndian(sh[16..]),
                Offset: BinaryPrimitives.ReadUInt64LittleEndian(sh[24..]),
                Size: BinaryPrimitives.ReadUInt64LittleEndian(sh[32..]),
                Link: BinaryPrimitives.ReadUInt32LittleEndian(sh[40..]),
                Info: BinaryPrimitives.ReadUInt32LittleEndian(sh[44..]),
                EntrySize: BinaryPrimitives.ReadUInt64LittleEndian(sh[56..])));
        }
        return sections;
    }

    private static List<ElfSegment> ParseLoadSegments(ReadOnlySpan<byte> image, ulong phoff, ushort phentsize, ulong phnum)
    {
        var segments = new List<ElfSegment>();
        if (phnum == 0)
            return segments;
        if (phentsize != ProgramHeaderSize)
            throw new GoBinaryException($"not a valid ELF file: program header size {phentsize} (expected 56)");
        if (phoff > (ulong)image.Length || phnum > ((ulong)image.Length - phoff) / ProgramHeaderSize)
            throw new GoBinaryException(
                $"truncated ELF program header table: {phnum} headers at 0x{phoff:x} do not fit in a file of 0x{image.Length:x} bytes");
        for (int i = 0; i < (int)phnum; i++)
        {
            var ph = image.Slice((int)phoff + i * ProgramHeaderSize, ProgramHeaderSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != ProgramLoad)
                continue;
            segments.Add(new ElfSegment(
                Flags: BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]),
                Offset: BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]),
                VirtualAddress: BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]),
                FileSize: BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]),
                MemorySize: BinaryPrimitives.ReadUInt64LittleEndian(ph[40..])));
        }
        return segments;
    }

    /// <summary>The first section called <paramref name="name"/>, or null.</summary>
    public ElfSection? Section(string name) => _sectionsByName.GetValueOrDefault(name);

    /// <summary>
    /// A section's contents: the file bytes, or for an SHF_COMPRESSED
    /// (zlib) or GNU <c>.zdebug_*</c> section the inflated bytes, capped at
    /// <see cref="MaxInflatedSectionSize"/>. Empty for SHT_NOBITS.
    /// </summary>
    public ReadOnlySpan<byte> SectionData(ElfSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        if (!section.HasFileData)
            return default;
        var raw = Bounds.Slice(_image, section.Offset, section.Size, section.Name.Length > 0 ? section.Name : "ELF section");
        if (section.IsCompressed || IsGnuCompressed(section, raw))
            return _inflated.GetOrAdd(section.Index, _ => Inflate(section));
        return raw;
    }

    // The older GNU convention (binutils --compress-debug-sections=zlib-gnu): a ".zdebug_*" section
    // holding "ZLIB", the inflated size as 8 big-endian bytes, then a zlib stream. Go's linker wrote
    // it from Go 1.11 until it moved to SHF_COMPRESSED for ELF (golang/go#50796; go1.19 writes the latter).
    private static bool IsGnuCompressed(ElfSection section, ReadOnlySpan<byte> raw) =>
        section.Name.StartsWith(".zdebug_", StringComparison.Ordinal) && raw.StartsWith("ZLIB"u8);

    private byte[] Inflate(ElfSection section)
    {
        var raw = Bounds.Slice(_image, section.Offset, section.Size, section.Name);
        ulong inflatedSize;
        int headerSize;
        if (section.IsCompressed)
        {
            if (raw.Length < CompressionHeaderSize)
                throw new GoBinaryException($"truncated compression header in section {section.Name}");
            uint kind = BinaryPrimitives.ReadUInt32LittleEndian(raw);
            if (kind == CompressZstd)
                throw new GoBinaryException($"section {section.Name} is zstd-compressed; Sonde reads zlib-compressed sections only");
            if (kind != CompressZlib)
                throw new GoBinaryException($"section {section.Name} uses unknown compression type {kind}");
            inflatedSize = BinaryPrimitives.ReadUInt64LittleEndian(raw[8..]);
            headerSize = CompressionHeaderSize;
        }
        else
        {
            if (raw.Length < 12)
                throw new GoBinaryException($"truncated compression header in section {section.Name}");
            inflatedSize = BinaryPrimitives.ReadUInt64BigEndian(raw[4..]);
            headerSize = 12;
        }

        long compressedSize = raw.Length - headerSize;
        if (inflatedSize > (ulong)MaxInflatedSectionSize)
            throw new GoBinaryException(
                $"section {section.Name} claims to inflate to {inflatedSize} bytes, more than the {MaxInflatedSectionSize >> 20} MiB Sonde accepts");
        if ((long)inflatedSize > compressedSize * DeflateMaxRatio + 1024)
            throw new GoBinaryException(
                $"corrupt section {section.Name}: {compressedSize} compressed bytes cannot inflate to the {inflatedSize} it claims");

        if (Interlocked.Add(ref _inflatedTotal, (long)inflatedSize) > MaxInflatedTotalSize)
            throw new GoBinaryException(
                $"section {section.Name} would take the file's inflated sections past the {MaxInflatedTotalSize >> 20} MiB Sonde accepts");
        var output = new byte[inflatedSize];
        try
        {
            using var input = new MemoryStream(_image, (int)section.Offset + headerSize, (int)compressedSize, writable: false);
            using var zlib = new ZLibStream(input, CompressionMode.Decompress);
            int filled = zlib.ReadAtLeast(output, output.Length, throwOnEndOfStream: false);
            if (filled < output.Length)
                throw new GoBinaryException(
                    $"truncated compressed section {section.Name}: it inflates to {filled} of the {inflatedSize} bytes its header claims");
            Span<byte> extra = stackalloc byte[1];
            if (zlib.Read(extra) != 0)
                throw new GoBinaryException($"corrupt compressed section {section.Name}: it inflates to more than the {inflatedSize} bytes its header claims");
        }
        catch (InvalidDataException e)
        {
            throw new GoBinaryException($"corrupt compressed section {section.Name}: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new GoBinaryException($"corrupt compressed section {section.Name}: {e.Message}", e);
        }
        return output;
    }

    /// <summary>
    /// Every R_X86_64_RELATIVE relocation (x86-64 psABI, type 8) of the file's
    /// SHT_RELA sections: the address it fills → its addend, the value a PIE's
    /// pointer has once loaded. The first one for an address wins. Elf64_Rela is
    /// {r_offset, r_info, r_addend} (gABI). Read once, on first use.
    /// </summary>
    public IReadOnlyDictionary<ulong, ulong> RelativeRelocations => _relative.Value;

    private Dictionary<ulong, ulong> ReadRelativeRelocations()
    {
        var relative = new Dictionary<ulong, ulong>();
        foreach (var section in Sections)
        {
            if (section.Type != ElfSection.TypeRela || section.IsCompressed)
                continue;
            var rela = SectionData(section);
            for (int at = 0; at + 24 <= rela.Length; at += 24)
                if ((uint)Bounds.U64(rela, (ulong)at + 8, section.Name) == 8)
                    relative.TryAdd(Bounds.U64(rela, (ulong)at, section.Name), Bounds.U64(rela, (ulong)at + 16, section.Name));
        }
        return relative;
    }

    /// <summary>The PT_LOAD segment whose file-backed bytes hold <paramref name="vaddr"/>, or null.</summary>
    public ElfSegment? SegmentContaining(ulong vaddr)
    {
        foreach (var segment in LoadSegments)
            if (segment.ContainsFileBacked(vaddr))
                return segment;
        return null;
    }

    public bool TryFileOffsetOf(ulong vaddr, out long offset)
    {
        offset = -1;
        var segment = SegmentContaining(vaddr);
        if (segment is null)
            return false;
        ulong delta = vaddr - segment.VirtualAddress;
        if (segment.Offset > (ulong)_image.Length || delta >= (ulong)_image.Length - segment.Offset)
            return false;
        offset = (long)(segment.Offset + delta);
        return true;
    }

    /// <summary>
    /// The file offset of virtual address <paramref name="vaddr"/>: what a
    /// uprobe is attached by (for PIE and non-PIE alike).
    /// </summary>
    public long FileOffsetOf(ulong vaddr)
    {
        if (TryFileOffsetOf(vaddr, out long offset))
            return offset;
        throw SegmentContaining(vaddr) is null
            ? new GoBinaryException($"address 0x{vaddr:x} is not in any loadable segment")
            : new GoBinaryException($"address 0x{vaddr:x} lies past the end of the file (truncated?)");
    }

    /// <summary>
    /// <paramref name="length"/> bytes at virtual address
    /// <paramref name="vaddr"/>, all from one segment's file-backed part.
    /// </summary>
    public ReadOnlySpan<byte> ReadVirtual(ulong vaddr, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var rest = ReadVirtualToSegmentEnd(vaddr);
        if (length > rest.Length)
            throw new GoBinaryException(
                $"{length} bytes at 0x{vaddr:x} run past the end of their segment's file data (truncated?)");
        return rest[..length];
    }

    /// <summary>The file-backed bytes from <paramref name="vaddr"/> to the end of its segment.</summary>
    internal ReadOnlySpan<byte> ReadVirtualToSegmentEnd(ulong vaddr)
    {
        var segment = SegmentContaining(vaddr)
            ?? throw new GoBinaryException($"address 0x{vaddr:x} is not in any loadable segment");
        ulong delta = vaddr - segment.VirtualAddress;
        var data = Bounds.Slice(_image, segment.Offset, segment.FileSize, $"segment at 0x{segment.VirtualAddress:x}");
        return data[(int)delta..];
    }
}
