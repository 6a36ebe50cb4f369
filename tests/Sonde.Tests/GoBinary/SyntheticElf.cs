using System.Buffers.Binary;
using System.Text;

namespace Sonde.Tests.GoBinary;

/// <summary>
/// Builds small 64-bit little-endian ELF images (System V gABI layouts:
/// Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr) for tests of formats and of hostile
/// headers: sections with chosen bytes and addresses, each optionally mapped
/// by its own PT_LOAD.
/// </summary>
internal sealed class SyntheticElf
{
    private readonly List<(string Name, uint Type, ulong Flags, ulong Address, byte[] Data)> _sections = [];
    private readonly List<(string Section, uint Flags)> _loads = [];

    public ushort Machine { get; init; } = 62;   // EM_X86_64
    public ushort Type { get; init; } = 2;       // ET_EXEC

    public const uint ProgBits = 1;
    public const ulong ShfCompressed = 0x800;

    public SyntheticElf Section(string name, byte[] data, ulong address = 0, ulong flags = 0, uint type = ProgBits)
    {
        _sections.Add((name, type, flags, address, data));
        return this;
    }

    /// <summary>Maps section <paramref name="name"/> at its address; flags PF_R|PF_W by default.</summary>
    public SyntheticElf Load(string name, uint flags = 6)
    {
        _loads.Add((name, flags));
        return this;
    }

    public byte[] Build()
    {
        var names = new MemoryStream();
        names.WriteByte(0);
        var nameOffsets = new List<int>();
        foreach (var s in _sections.Select(s => s.Name).Append(".shstrtab"))
        {
            nameOffsets.Add((int)names.Length);
            names.Write(Encoding.ASCII.GetBytes(s));
            names.WriteByte(0);
        }

        int phoff = 64;
        int offset = phoff + 56 * _loads.Count;
        var dataOffsets = new List<int>();
        foreach (var s in _sections)
        {
            offset = Align(offset, 16);
            dataOffsets.Add(offset);
            offset += s.Data.Length;
        }
        int namesOffset = offset;
        offset += (int)names.Length;
        int shoff = Align(offset, 8);
        int shnum = _sections.Count + 2; // null section, sections, .shstrtab
        var image = new byte[shoff + 64 * shnum];
        var span = image.AsSpan();

        // Elf64_Ehdr
        "\x7f"u8.CopyTo(span);
        "ELF"u8.CopyTo(span[1..]);
        span[4] = 2; // ELFCLASS64
        span[5] = 1; // ELFDATA2LSB
        span[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(span[16..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(span[18..], Machine);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(span[32..], _loads.Count > 0 ? (ulong)phoff : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(span[40..], (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(span[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(span[54..], 56);
        BinaryPrimitives.WriteUInt16LittleEndian(span[56..], (ushort)_loads.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(span[58..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(span[60..], (ushort)shnum);
        BinaryPrimitives.WriteUInt16LittleEndian(span[62..], (ushort)(shnum - 1));

        for (int i = 0; i < _loads.Count; i++)
        {
            int index = _sections.FindIndex(s => s.Name == _loads[i].Section);
            var s = _sections[index];
            var ph = span.Slice(phoff + 56 * i, 56);
            BinaryPrimitives.WriteUInt32LittleEndian(ph, 1); // PT_LOAD
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], _loads[i].Flags);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], (ulong)dataOffsets[index]);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], s.Address);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], s.Address);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 16);
        }

        for (int i = 0; i < _sections.Count; i++)
        {
            _sections[i].Data.CopyTo(span[dataOffsets[i]..]);
            WriteSectionHeader(span, shoff + 64 * (i + 1), nameOffsets[i], _sections[i].Type, _sections[i].Flags,
                _sections[i].Address, dataOffsets[i], _sections[i].Data.Length);
        }
        names.ToArray().CopyTo(span[namesOffset..]);
        WriteSectionHeader(span, shoff + 64 * (shnum - 1), nameOffsets[^1], 3 /* SHT_STRTAB */, 0, 0, namesOffset, (int)names.Length);
        return image;
    }

    private static void WriteSectionHeader(Span<byte> image, int at, int name, uint type, ulong flags, ulong address, int offset, int size)
    {
        var sh = image.Slice(at, 64);
        BinaryPrimitives.WriteUInt32LittleEndian(sh, (uint)name);
        BinaryPrimitives.WriteUInt32LittleEndian(sh[4..], type);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[8..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[16..], address);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[24..], (ulong)offset);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[32..], (ulong)size);
        BinaryPrimitives.WriteUInt64LittleEndian(sh[48..], 1);
    }

    private static int Align(int value, int alignment) => (value + alignment - 1) / alignment * alignment;
}
