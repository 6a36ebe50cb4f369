using System.Text;

namespace Sonde.GoBinary;

/// <summary>
/// What the Go toolchain records about a build in <c>.go.buildinfo</c>: the
/// Go version and, for module-mode builds, the main module and every
/// dependency with its version (Gin's, x/net's), which together choose the
/// struct layouts Sonde reads. Reads both header formats of Go
/// src/debug/buildinfo/buildinfo.go: before 1.18, pointers to Go strings
/// (flagsVersionPtr); since 1.18, the strings inline after the header as
/// uvarint-length-prefixed bytes (flagsVersionInl). The module list is the
/// text format of Go src/runtime/debug/mod.go (BuildInfo.String).
/// </summary>
public sealed class GoBuildInfo
{
    /// <summary>"\xff Go buildinf:", 16-byte aligned (Go src/debug/buildinfo/buildinfo.go buildInfoMagic, buildInfoAlign).</summary>
    private static readonly byte[] MagicBytes = [0xff, .. " Go buildinf:"u8];
    private const int HeaderSize = 32, Align = 16;
    private const byte FlagBigEndian = 0x1, FlagInline = 0x2;
    private const int MaxVersionLength = 1024, MaxModInfoLength = 4 << 20;

    private GoBuildInfo(string goVersion, string? mainPath, string? mainModule,
        Dictionary<string, string> modules, Dictionary<string, string> settings)
    {
        GoVersion = goVersion;
        MainPath = mainPath;
        MainModule = mainModule;
        Modules = modules;
        Settings = settings;
    }

    /// <summary>The toolchain that built the program, as it says it: "go1.19.8".</summary>
    public string GoVersion { get; }

    /// <summary>
    /// <see cref="GoVersion"/> as numbers; null for a development toolchain
    /// ("devel ..."), whose layouts only DWARF can tell.
    /// </summary>
    public GoVersion? Version => Sonde.GoBinary.GoVersion.TryParse(GoVersion, out var v) ? v : null;

    /// <summary>Import path of the main package ("path" line); null when the build recorded none.</summary>
    public string? MainPath { get; }

    /// <summary>Path of the main module ("mod" line); null for GOPATH-mode builds.</summary>
    public string? MainModule { get; }

    /// <summary>
    /// Module path → version for the main module ("(devel)" for a local
    /// build) and every dependency; a dependency replaced by another
    /// version maps to the version actually compiled in.
    /// </summary>
    public IReadOnlyDictionary<string, string> Modules { get; }

    /// <summary>Build settings ("build" lines): -buildmode, CGO_ENABLED, GOAMD64, vcs.revision, ...</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>
    /// Where the record came from: <c>.go.buildinfo</c>, or only the version
    /// string <c>runtime.buildVersion</c> when the build information was removed
    /// after linking (then <see cref="Modules"/> is empty: module versions unknown).
    /// </summary>
    public bool FromBuildVersionOnly { get; private set; }

    /// <summary>The Go version as an attach line shows it, saying where it came from when that is not .go.buildinfo.</summary>
    public string Described => FromBuildVersionOnly
        ? $"{GoVersion} (no .go.buildinfo: version from runtime.buildVersion, module versions unknown)"
        : GoVersion;

    /// <summary>
    /// The build information, or when the file has none (its .go.buildinfo removed
    /// after linking) the version from <c>runtime.buildVersion</c>
    /// (<see cref="FromBuildVersion"/>), checked against the pclntab's magic.
    /// </summary>
    public static GoBuildInfo ParseOrVersion(ElfFile elf, uint pclntabMagic)
    {
        ArgumentNullException.ThrowIfNull(elf);
        try
        {
            return Parse(elf);
        }
        catch (GoBinaryException e) when (e.Message == NoBuildInfo)
        {
            return FromBuildVersion(elf, pclntabMagic)
                ?? throw new GoBinaryException("not a Go program: no Go build information (.go.buildinfo), and no runtime.buildVersion string in its data") { Reason = "not_a_go_binary" };
        }
    }

    private const string NoBuildInfo = "not a Go program: no Go build information (.go.buildinfo)";

    /// <summary>Longest version string accepted ("go1.27.10rc1" and a little more).</summary>
    private const int MaxBuildVersion = 32;

    /// <summary>
    /// <c>runtime.buildVersion</c> (src/runtime/extern.go, set by the linker to
    /// "go1.NN.P") found without symbols: a Go string header {ptr, len} in a
    /// writable segment (or, in a PIE, a relocated pointer) whose bytes, in a
    /// read-only segment, are a release version. Several different versions, or
    /// one the pclntab's magic rules out (src/internal/abi/symtab.go: 0xfffffffa
    /// go1.16-1.17, 0xfffffff0 go1.18-1.19, 0xfffffff1 go1.20 and later), give no
    /// answer. Null when none is found.
    /// </summary>
    public static GoBuildInfo? FromBuildVersion(ElfFile elf, uint pclntabMagic)
    {
        ArgumentNullException.ThrowIfNull(elf);
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var segment in elf.LoadSegments)
        {
            if (!segment.IsWritable || segment.IsExecutable || !Bounds.Fits(elf.Length, segment.Offset, segment.FileSize))
                continue;
            var data = elf.Image.Slice((int)segment.Offset, (int)segment.FileSize);
            ulong first = (8 - segment.VirtualAddress % 8) % 8;
            for (ulong at = first; at + 16 <= (ulong)data.Length; at += 8)
            {
                ulong length = Bounds.U64(data, at + 8, "data segment");
                if (length < 6 || length > MaxBuildVersion)
                    continue;
                ulong pointer = Bounds.U64(data, at, "data segment");
                if (pointer == 0 && elf.IsPositionIndependent)
                    elf.RelativeRelocations.TryGetValue(segment.VirtualAddress + at, out pointer);
                if (VersionAt(elf, pointer, (int)length) is { } v && MagicAllows(pclntabMagic, v))
                    found.Add(v);
                if (found.Count > 1)
                    return null;
            }
        }
        if (found.Count != 1)
            return null;
        var info = FromText(found.First(), "");
        info.FromBuildVersionOnly = true;
        return info;
    }

    private static string? VersionAt(ElfFile elf, ulong pointer, int length)
    {
        var segment = elf.SegmentContaining(pointer);
        if (segment is null || segment.IsWritable || segment.IsExecutable || !segment.ContainsFileBacked(pointer + (ulong)length - 1))
            return null;
        var bytes = elf.ReadVirtual(pointer, length);
        if (!bytes.StartsWith("go1."u8))
            return null;
        foreach (byte b in bytes)
            if (!char.IsAsciiLetterOrDigit((char)b) && b != '.')
                return null;
        string text = Encoding.ASCII.GetString(bytes);
        return Sonde.GoBinary.GoVersion.TryParse(text, out _) ? text : null;
    }

    private static bool MagicAllows(uint magic, string version)
    {
        Sonde.GoBinary.GoVersion.TryParse(version, out var v);
        if (v.Major != 1) return false;
        return magic switch
        {
            Pclntab.Magic116 => v.Minor is 16 or 17,
            Pclntab.Magic118 => v.Minor is 18 or 19,
            Pclntab.Magic120 => v.Minor >= 20,
            _ => false,
        };
    }

    public static GoBuildInfo Parse(ElfFile elf)
    {
        ArgumentNullException.ThrowIfNull(elf);
        var blob = Locate(elf, out ulong address);
        var header = Bounds.Slice(blob, 0, HeaderSize, "Go build information header");
        byte flags = header[15];
        if ((flags & FlagBigEndian) != 0)
            throw new GoBinaryException("big-endian Go build information: Sonde traces x86-64 programs only");

        ReadOnlySpan<byte> version, modinfo;
        if ((flags & FlagInline) != 0)
        {
            var reader = new SpanReader(blob, "Go build information", HeaderSize);
            version = reader.Bytes(Limit(reader.Uleb(), MaxVersionLength, "Go version"));
            modinfo = reader.Bytes(Limit(reader.Uleb(), MaxModInfoLength, "module information"));
        }
        else
        {
            if (header[14] != 8)
                throw new GoBinaryException($"Go build information with {header[14]}-byte pointers: Sonde traces 64-bit programs only");
            version = GoString(elf, Bounds.U64(header, 16, "Go build information header"), MaxVersionLength, "Go version");
            modinfo = GoString(elf, Bounds.U64(header, 24, "Go build information header"), MaxModInfoLength, "module information");
        }
        if (version.IsEmpty)
            throw new GoBinaryException($"not a Go program: the build information at 0x{address:x} has no Go version");

        // cmd/go frames the module text between two 16-byte sentinels; the end one follows a newline.
        if (modinfo.Length >= 33 && modinfo[^17] == (byte)'\n')
            modinfo = modinfo[16..^16];
        else
            modinfo = default;
        return FromText(Encoding.UTF8.GetString(version), Encoding.UTF8.GetString(modinfo));
    }

    private static ulong Limit(ulong length, int max, string what) =>
        length <= (ulong)max ? length : throw new GoBinaryException($"corrupt Go build information: a {length}-byte {what}");

    /// <summary>A Go string header {data pointer, length} at <paramref name="address"/> and the bytes it points to.</summary>
    private static ReadOnlySpan<byte> GoString(ElfFile elf, ulong address, int maxLength, string what)
    {
        if (address == 0)
            return default;
        var header = elf.ReadVirtual(address, 16);
        ulong data = Bounds.U64(header, 0, what);
        ulong length = Limit(Bounds.U64(header, 8, what), maxLength, what);
        return length == 0 ? default : elf.ReadVirtual(data, (int)length);
    }

    /// <summary>
    /// The bytes from the build information header to the end of what holds
    /// it: the <c>.go.buildinfo</c> section, else (as Go's debug/buildinfo
    /// does) the first writable, non-executable segment searched for the
    /// aligned magic.
    /// </summary>
    private static ReadOnlySpan<byte> Locate(ElfFile elf, out ulong address)
    {
        var section = elf.Section(".go.buildinfo");
        if (section is not null && section.HasFileData)
        {
            var data = elf.SectionData(section);
            int at = FindMagic(data, section.Address);
            if (at >= 0)
            {
                address = section.Address + (ulong)at;
                return data[at..];
            }
        }
        foreach (var segment in elf.LoadSegments)
        {
            if (!segment.IsWritable || segment.IsExecutable)
                continue;
            if (!Bounds.Fits(elf.Length, segment.Offset, segment.FileSize))
                throw new GoBinaryException($"truncated file: the data segment at 0x{segment.VirtualAddress:x} runs past its end");
            var data = elf.Image.Slice((int)segment.Offset, (int)segment.FileSize);
            int at = FindMagic(data, segment.VirtualAddress);
            if (at >= 0)
            {
                address = segment.VirtualAddress + (ulong)at;
                return data[at..];
            }
            break;
        }
        throw new GoBinaryException(NoBuildInfo);
    }

    private static int FindMagic(ReadOnlySpan<byte> data, ulong address)
    {
        int at = (int)((Align - (int)(address % Align)) % Align);
        while (at < data.Length)
        {
            int found = data[at..].IndexOf(MagicBytes);
            if (found < 0)
                return -1;
            at += found;
            if ((address + (ulong)at) % Align == 0)
                return at;
            at += Align - (int)((address + (ulong)at) % Align);
        }
        return -1;
    }

    /// <summary>
    /// Builds the record from the version string and the module text without
    /// its sentinels, lines as Go src/runtime/debug/mod.go writes them:
    /// <c>path\tP</c>, <c>mod\tP\tV\tSUM</c>, <c>dep\tP\tV\tSUM</c>,
    /// <c>=&gt;\tP\tV\tSUM</c> (replaces the line before), <c>build\tK=V</c>.
    /// </summary>
    internal static GoBuildInfo FromText(string goVersion, string modinfo)
    {
        string? mainPath = null, mainModule = null, last = null;
        var modules = new Dictionary<string, string>(StringComparer.Ordinal);
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in modinfo.Split('\n'))
        {
            int tab = line.IndexOf('\t');
            if (tab < 0)
                continue;
            var kind = line[..tab];
            var rest = line[(tab + 1)..];
            switch (kind)
            {
                case "path":
                    mainPath = rest;
                    break;
                case "mod":
                case "dep":
                {
                    var fields = rest.Split('\t');
                    if (fields[0].Length == 0)
                        break;
                    modules[fields[0]] = fields.Length > 1 ? fields[1] : "";
                    last = fields[0];
                    if (kind == "mod")
                        mainModule = fields[0];
                    break;
                }
                case "=>":
                {
                    var fields = rest.Split('\t');
                    if (last is not null && fields.Length > 1 && fields[1].Length > 0)
                        modules[last] = fields[1];
                    last = null;
                    break;
                }
                case "build":
                    if (ParseSetting(rest, out var key, out var value))
                        settings[key] = value;
                    break;
            }
        }
        return new GoBuildInfo(goVersion, mainPath, mainModule, modules, settings);
    }

    // A key or value containing spaces, tabs, quotes or '=' (keys) is written strconv.Quote'd.
    private static bool ParseSetting(string text, out string key, out string value)
    {
        int at = 0;
        key = text.StartsWith('"') ? Unquote(text, ref at) : TakeUntil(text, '=', ref at);
        value = "";
        if (at >= text.Length || text[at] != '=' || key.Length == 0)
            return false;
        at++;
        value = at < text.Length && text[at] == '"' ? Unquote(text, ref at) : text[at..];
        return true;
    }

    private static string TakeUntil(string text, char stop, ref int at)
    {
        int end = text.IndexOf(stop, at);
        if (end < 0)
            end = text.Length;
        var taken = text[at..end];
        at = end;
        return taken;
    }

    private static string Unquote(string text, ref int at)
    {
        var sb = new StringBuilder();
        at++; // opening quote
        while (at < text.Length && text[at] != '"')
        {
            char c = text[at++];
            if (c == '\\' && at < text.Length)
            {
                char e = text[at++];
                sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => e });
            }
            else
            {
                sb.Append(c);
            }
        }
        if (at < text.Length)
            at++; // closing quote
        return sb.ToString();
    }
}
