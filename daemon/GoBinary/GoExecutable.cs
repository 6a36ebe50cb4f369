namespace Sonde.GoBinary;

/// <summary>
/// Everything Sonde learns from one Go executable before probing it: its
/// functions (from .gopclntab, so stripped binaries work), its build
/// information (Go and module versions), and its struct layouts when it
/// carries DWARF. The file is read once into memory, up to
/// <see cref="MaxFileSize"/>, and never mapped: its owner could truncate a
/// mapping under us (SIGBUS). Anything wrong with the file is a
/// <see cref="GoBinaryException"/> whose message starts with the path.
/// </summary>
public sealed class GoExecutable
{
    /// <summary>Largest executable Sonde reads (the biggest real Go binaries are a few hundred MiB).</summary>
    public const long MaxFileSize = 1L << 30;

    private GoExecutable(string path, ElfFile elf, Pclntab functions, GoBuildInfo buildInfo, DwarfStructs? dwarf, string? dwarfError)
    {
        Path = path;
        Elf = elf;
        Functions = functions;
        BuildInfo = buildInfo;
        Dwarf = dwarf;
        DwarfError = dwarfError;
    }

    /// <summary>The path the executable was opened by (e.g. /proc/1234/exe).</summary>
    public string Path { get; }
    public ElfFile Elf { get; }
    public Pclntab Functions { get; }
    public GoBuildInfo BuildInfo { get; }
    /// <summary>Struct layouts from DWARF; null when the binary has none or it could not be read (<see cref="DwarfError"/>).</summary>
    public DwarfStructs? Dwarf { get; }
    /// <summary>Why the DWARF present in the file could not be read; null when it was read or is absent.</summary>
    public string? DwarfError { get; }

    /// <summary>Reads and analyses the executable at <paramref name="path"/>.</summary>
    public static GoExecutable Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Load(ReadFile(path), path);
    }

    /// <summary>Analyses an executable already in memory; <paramref name="path"/> only names it in messages.</summary>
    public static GoExecutable Load(byte[] image, string path)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            var elf = ElfFile.Parse(image);
            if (elf.Machine != ElfFile.MachineX86_64)
                throw new GoBinaryException($"an ELF file for machine {elf.Machine}; Sonde traces x86-64 programs only") { Reason = "unsupported_architecture" };
            if (Pclntab.FindSection(elf) is null)
                throw new GoBinaryException($"{path} is not a Go program: it has no .gopclntab section") { Reason = "not_a_go_binary" };
            var functions = Pclntab.Parse(elf);
            var buildInfo = GoBuildInfo.ParseOrVersion(elf, functions.Magic);
            DwarfStructs? dwarf = null;
            string? dwarfError = null;
            try
            {
                dwarf = DwarfStructs.TryLoad(elf);
            }
            catch (GoBinaryException e)
            {
                // Struct layouts can still come from the table of known layouts.
                dwarfError = e.Message;
            }
            return new GoExecutable(path, elf, functions, buildInfo, dwarf, dwarfError);
        }
        catch (GoBinaryException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new GoBinaryException($"{path}: {e.Message}", e);
        }
    }

    private static byte[] ReadFile(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long length = RandomAccess.GetLength(handle);
            if (length > MaxFileSize)
                throw new GoBinaryException($"{path} is {length} bytes, larger than the {MaxFileSize >> 20} MiB Sonde reads") { Reason = "unreadable" };
            var image = new byte[length];
            int filled = 0;
            while (filled < image.Length)
            {
                int n = RandomAccess.Read(handle, image.AsSpan(filled), filled);
                if (n == 0)
                    break; // truncated while we read: parse what is there
                filled += n;
            }
            if (filled < image.Length)
                Array.Resize(ref image, filled);
            return image;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new GoBinaryException($"cannot read {path}: {e.Message}", e) { Reason = "unreadable" };
        }
    }

    /// <summary>The bytes of <paramref name="f"/>, [Entry, End), from the file.</summary>
    public ReadOnlySpan<byte> Code(GoFunction f)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (f.Size > int.MaxValue)
            throw new GoBinaryException($"{Path}: function {f.Name} claims {f.Size} bytes");
        return Elf.ReadVirtual(f.Entry, (int)f.Size);
    }

    /// <summary>The file offset of virtual address <paramref name="vaddr"/>: what a uprobe is attached at.</summary>
    public long FileOffsetOf(ulong vaddr) => Elf.FileOffsetOf(vaddr);
}
