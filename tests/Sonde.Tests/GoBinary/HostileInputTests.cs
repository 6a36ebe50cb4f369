using System.Buffers.Binary;
using System.Diagnostics;
using Sonde.GoBinary;
using Xunit.Abstractions;

namespace Sonde.Tests.GoBinary;

/// <summary>
/// Sonde parses executables owned by other users while running as root:
/// truncated, bit-flipped and absurd inputs must parse or throw
/// GoBinaryException, quickly, never anything else.
/// </summary>
public sealed class HostileInputTests(ITestOutputHelper output)
{
    /// <summary>No single parse of a ~7 MB input may take longer (a hang or quadratic blow-up would).</summary>
    private static readonly TimeSpan PerParseLimit = TimeSpan.FromSeconds(2);

    private static byte[] Image(string server) => File.ReadAllBytes(GoTestBinaries.PathOf(server));

    private static ElfSection SectionOf(byte[] image, string name) => ElfFile.Parse(image).Section(name)!;

    private void Report(HostileImage run, string what) =>
        output.WriteLine($"{what}: {run.Runs} inputs, {run.Accepted} accepted, slowest {run.Slowest.TotalMilliseconds:F0} ms ({run.SlowestInput})");

    [Fact]
    public void TruncatedCopiesParseOrThrowGoBinaryException()
    {
        var image = Image("nethttp");
        var elf = ElfFile.Parse(image);
        var cuts = new SortedSet<int> { 0, 1, 3, 4, 5, 15, 16, 17, 40, 63, 64, 65, 119, 120 };
        // Inside and at the edges of every section header (the table is at the start of a Go binary).
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(40));
        for (int i = 0; i < elf.Sections.Count; i++)
            foreach (int delta in new[] { 0, 24, 63 })
                cuts.Add((int)shoff + 64 * i + delta);
        // Into the tables the parsers read.
        foreach (var name in new[] { ".gopclntab", ".go.buildinfo", ".debug_info", ".debug_abbrev", ".text", ".shstrtab" })
        {
            var s = elf.Section(name)!;
            foreach (ulong at in new ulong[] { 0, 4, 8, 12, 40, 72, 80, s.Size / 3, s.Size / 2, s.Size - 1, s.Size })
                if (at <= s.Size)
                    cuts.Add((int)(s.Offset + at));
        }
        var random = new Random(20240601);
        while (cuts.Count < 200)
            cuts.Add(random.Next(image.Length));

        var run = new HostileImage();
        foreach (int cut in cuts)
            run.Parse(image[..cut], $"cut at {cut}", withExecutable: true);
        Report(run, "truncations");
        Assert.True(run.Runs >= 200);
        run.AssertSafe(PerParseLimit);
        // Cuts beyond what the parsers need leave a usable executable.
        Assert.True(run.Accepted > 0);
    }

    [Fact]
    public void RandomBitFlipsParseOrThrowGoBinaryException()
    {
        var image = Image("nethttp-stripped");
        var elf = ElfFile.Parse(image);
        var pclntab = elf.Section(".gopclntab")!;
        var buildinfo = elf.Section(".go.buildinfo")!;
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(40));
        // Where flips matter: headers, the section table, the pclntab's header, function table and
        // records, the build information; and anywhere at all.
        (long Start, long Length)[] regions =
        [
            (0, 64 + 56 * 10),
            ((long)shoff, 64L * elf.Sections.Count),
            ((long)pclntab.Offset, 72),
            ((long)pclntab.Offset, (long)pclntab.Size),
            ((long)buildinfo.Offset, (long)buildinfo.Size),
            (0, image.Length),
        ];
        var random = new Random(1234567);
        var run = new HostileImage();
        for (int n = 0; n < 2500; n++)
        {
            int flips = 1 + random.Next(4);
            var at = new long[flips];
            var bits = new byte[flips];
            for (int k = 0; k < flips; k++)
            {
                var (start, length) = regions[random.Next(regions.Length)];
                at[k] = start + random.NextInt64(length);
                bits[k] = (byte)(1 << random.Next(8));
                image[at[k]] ^= bits[k];
            }
            run.Parse(image, $"flips at {string.Join(",", at.Select(a => $"0x{a:x}"))}");
            for (int k = flips - 1; k >= 0; k--)
                image[at[k]] ^= bits[k];
        }
        Report(run, "random flips");
        run.AssertSafe(PerParseLimit);
    }

    /// <summary>
    /// Go 1.26+ binaries take their text start from moduledata (.go.module):
    /// truncations through it, and every bit of it and of the pclntab header
    /// flipped, parse or throw; a flip that changes the text start is refused,
    /// never accepted with the wrong base.
    /// </summary>
    [Theory]
    [InlineData("go1.26/nethttp-stripped")]
    [InlineData("go1.27/gin-stripped")]
    [InlineData("go1.27/nethttp-pie")]
    public void ModuledataOfGo126AndLaterIsCheckedNotTrusted(string server)
    {
        var image = Image(server);
        var elf = ElfFile.Parse(image);
        ulong goodText = Pclntab.Parse(elf).TextStart;
        var module = elf.Section(".go.module")!;
        var pclntab = elf.Section(".gopclntab")!;
        var run = new HostileImage();
        foreach (ulong at in new ulong[] { 0, 8, 100, 160, 176, 184, 191, module.Size - 1 })
            run.Parse(image[..(int)(module.Offset + at)], $"cut at .go.module+{at}");
        int wrongBase = 0;
        foreach (var (start, length) in new[] { ((long)module.Offset, 192L), ((long)pclntab.Offset, 72L) })
            for (long at = start; at < start + length; at++)
                for (int bit = 0; bit < 8; bit++)
                {
                    image[at] ^= (byte)(1 << bit);
                    run.Parse(image, $"bit {bit} of 0x{at:x}");
                    try
                    {
                        if (Pclntab.Parse(ElfFile.Parse(image)).TextStart != goodText) wrongBase++;
                    }
                    catch (GoBinaryException) { }
                    image[at] ^= (byte)(1 << bit);
                }
        Report(run, $"{server} moduledata");
        run.AssertSafe(PerParseLimit);
        Assert.Equal(0, wrongBase);
    }

    /// <summary>
    /// Without .go.buildinfo the version is searched for in the data segments:
    /// random flips there and truncations through them parse or throw, quickly.
    /// </summary>
    [Theory]
    [InlineData("go1.27/nethttp-nobuildinfo")]
    [InlineData("nethttp-nobuildinfo")]
    public void TheBuildVersionSearchSurvivesHostileData(string server)
    {
        var image = Image(server);
        var elf = ElfFile.Parse(image);
        var data = elf.LoadSegments.Where(s => s.IsWritable && !s.IsExecutable).ToList();
        var run = new HostileImage();
        var random = new Random(271828);
        foreach (var segment in data)
            for (int i = 0; i < 20; i++)
                run.Parse(image[..(int)(segment.Offset + (ulong)random.NextInt64((long)segment.FileSize))], "cut in a data segment", withExecutable: true);
        for (int n = 0; n < 600; n++)
        {
            var segment = data[random.Next(data.Count)];
            long at = (long)segment.Offset + random.NextInt64((long)segment.FileSize);
            byte bit = (byte)(1 << random.Next(8));
            image[at] ^= bit;
            run.Parse(image, $"flip at 0x{at:x}", withExecutable: n % 50 == 0);
            image[at] ^= bit;
        }
        Report(run, $"{server} build version");
        run.AssertSafe(PerParseLimit);
        Assert.True(run.Accepted > 0);
    }

    [Fact]
    public void EveryBitOfTheHeadersFlippedParsesOrThrowsGoBinaryException()
    {
        var image = Image("nethttp-stripped");
        var elf = ElfFile.Parse(image);
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(40));
        var targets = new List<long>();
        for (long i = 0; i < 64; i++) targets.Add(i);                                   // ELF header
        foreach (var s in elf.Sections)                                                 // every section header field
            foreach (int field in new[] { 0, 4, 8, 16, 24, 28, 32, 36, 39, 40, 44, 56 })
                targets.Add((long)shoff + 64L * s.Index + field);
        var pclntab = elf.Section(".gopclntab")!;
        for (long i = 0; i < 72; i++) targets.Add((long)pclntab.Offset + i);            // pclntab header
        var buildinfo = elf.Section(".go.buildinfo")!;
        for (long i = 0; i < Math.Min(64, (long)buildinfo.Size); i++) targets.Add((long)buildinfo.Offset + i); // buildinfo header, version

        var run = new HostileImage();
        foreach (long at in targets)
            for (int bit = 0; bit < 8; bit++)
            {
                image[at] ^= (byte)(1 << bit);
                run.Parse(image, $"bit {bit} of 0x{at:x}");
                image[at] ^= (byte)(1 << bit);
            }
        Report(run, "header bit flips");
        Assert.True(run.Runs > 4000);
        run.AssertSafe(PerParseLimit);
    }

    [Fact]
    public void CorruptCompressedDebugInfoThrowsGoBinaryException()
    {
        var image = Image("nethttp");
        var info = SectionOf(image, ".debug_info");
        var random = new Random(99);
        var run = new HostileImage();
        for (int n = 0; n < 40; n++)
        {
            long at = (long)info.Offset + (n < 24 ? n : random.NextInt64((long)info.Size)); // Elf64_Chdr, then the stream
            byte bit = (byte)(1 << random.Next(8));
            image[at] ^= bit;
            run.Parse(image, $"debug_info flip at 0x{at:x}");
            image[at] ^= bit;
        }
        Report(run, "compressed DWARF flips");
        run.AssertSafe(PerParseLimit);
    }

    /// <summary>Flips in the inflated DWARF of a small Go program, stored uncompressed in a synthetic ELF.</summary>
    [Fact]
    public void BitFlipsInDwarfParseOrThrowGoBinaryException()
    {
        var dir = GoTestBinaries.TemporaryDirectory();
        byte[] info, abbrev;
        try
        {
            File.WriteAllText(Path.Combine(dir, "main.go"), "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(len(os.Args)) }\n");
            var elf = ElfFile.Parse(File.ReadAllBytes(GoTestBinaries.GoBuild(dir, Path.Combine(dir, "tiny"))));
            info = elf.SectionData(elf.Section(".debug_info")!).ToArray();
            abbrev = elf.SectionData(elf.Section(".debug_abbrev")!).ToArray();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        var image = new SyntheticElf().Section(".debug_abbrev", abbrev).Section(".debug_info", info).Build();
        var sections = ElfFile.Parse(image);
        Assert.NotNull(DwarfStructs.TryLoad(sections)!.FieldOffset("runtime.g", "goid"));
        var abbrevAt = (long)sections.Section(".debug_abbrev")!.Offset;
        var infoAt = (long)sections.Section(".debug_info")!.Offset;

        var random = new Random(4242);
        var run = new HostileImage();
        for (int n = 0; n < 600; n++)
        {
            long at = n % 3 == 0 ? abbrevAt + random.Next(abbrev.Length)
                : n % 3 == 1 ? infoAt + random.Next(Math.Min(4096, info.Length))   // unit header and first DIEs
                : infoAt + random.Next(info.Length);
            byte bit = (byte)(1 << random.Next(8));
            image[at] ^= bit;
            run.Parse(image, $"DWARF flip at 0x{at:x}");
            image[at] ^= bit;
        }
        Report(run, "DWARF flips");
        run.AssertSafe(PerParseLimit);
    }

    private static GoBinaryException Rejects(byte[] image)
    {
        var run = new HostileImage();
        run.Parse(image, "crafted", withExecutable: true);
        run.AssertSafe(PerParseLimit);
        return Assert.Throws<GoBinaryException>(() => GoExecutable.Load(image, "crafted"));
    }

    [Fact]
    public void NotElfFilesAreRejectedWithAClearMessage()
    {
        Assert.Contains("empty", Rejects([]).Message);
        Assert.Contains("not an ELF file", Rejects("#!/bin/sh\necho hello\n"u8.ToArray()).Message);
        Assert.Contains("not an ELF file", Rejects([0x7f, (byte)'E']).Message);

        var elf32 = new byte[52];
        new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }.CopyTo(elf32, 0);
        elf32[4] = 1; // ELFCLASS32
        elf32[5] = 1;
        Assert.Contains("32-bit", Rejects(elf32).Message);

        var bigEndian = new SyntheticElf().Build();
        bigEndian[5] = 2; // ELFDATA2MSB
        Assert.Contains("big-endian", Rejects(bigEndian).Message);

        var arm = new SyntheticElf { Machine = 183 }.Section(".gopclntab", new byte[64]).Build();
        Assert.Contains("x86-64", Rejects(arm).Message);

        var notGo = new SyntheticElf().Section(".text", [0xc3], 0x401000).Load(".text", 5).Build();
        var e = Rejects(notGo);
        Assert.Contains("is not a Go program", e.Message);
        Assert.StartsWith("crafted", e.Message);
    }

    [Fact]
    public void AbsurdHeaderCountsOffsetsAndSizesAreRejected()
    {
        var good = new SyntheticElf().Section(".gopclntab", new byte[128], 0x500000).Load(".gopclntab").Build();

        byte[] With(Action<Span<byte>> edit)
        {
            var copy = (byte[])good.Clone();
            edit(copy);
            return copy;
        }
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(good.AsSpan(40));
        int gopclntab = (int)shoff + 64; // section 1

        Assert.Contains("section header", Rejects(With(b => BinaryPrimitives.WriteUInt16LittleEndian(b[60..], 65535))).Message);
        Assert.Contains("section header", Rejects(With(b => BinaryPrimitives.WriteUInt64LittleEndian(b[40..], ulong.MaxValue - 8))).Message);
        Assert.Contains("section header size", Rejects(With(b => BinaryPrimitives.WriteUInt16LittleEndian(b[58..], 40))).Message);
        Assert.Contains("name table", Rejects(With(b => BinaryPrimitives.WriteUInt16LittleEndian(b[62..], 60000))).Message);
        Assert.Contains("program header", Rejects(With(b => BinaryPrimitives.WriteUInt16LittleEndian(b[56..], 65535))).Message);
        Assert.Contains("program header", Rejects(With(b => BinaryPrimitives.WriteUInt64LittleEndian(b[32..], 1ul << 62))).Message);
        Assert.Contains(".gopclntab", Rejects(With(b => BinaryPrimitives.WriteUInt64LittleEndian(b[(gopclntab + 32)..], 1ul << 63))).Message);
        Assert.Contains(".gopclntab", Rejects(With(b => BinaryPrimitives.WriteUInt64LittleEndian(b[(gopclntab + 24)..], 1ul << 63))).Message);
        Assert.Contains("section name", Rejects(With(b => BinaryPrimitives.WriteUInt32LittleEndian(b[gopclntab..], 0x7fffffff))).Message);
        // Extended numbering (e_shnum = 0, count in section 0's sh_size) claiming 2^40 sections.
        Assert.Contains("section header", Rejects(With(b =>
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b[60..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(b[((int)shoff + 32)..], 1ul << 40);
        })).Message);
    }

    /// <summary>A pclntab of the Go 1.18 layout with the given header words and body.</summary>
    private static byte[] Pclntab118(ulong nfunc, ulong funcnameOffset, ulong functabOffset, byte[] body)
    {
        var table = new byte[72 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(table, Sonde.GoBinary.Pclntab.Magic118);
        table[6] = 1;
        table[7] = 8;
        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(8), nfunc);
        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(24), 0x401000);      // textStart
        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(32), funcnameOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(64), functabOffset);
        body.CopyTo(table, 72);
        return table;
    }

    private static GoBinaryException RejectsPclntab(byte[] table) =>
        Assert.Throws<GoBinaryException>(() => Sonde.GoBinary.Pclntab.Parse(ElfFile.Parse(new SyntheticElf().Section(".gopclntab", table).Build())));

    [Fact]
    public void AbsurdPclntabsAreRejectedWithoutAllocatingWhatTheyClaim()
    {
        Assert.Contains("functions", RejectsPclntab(Pclntab118(1ul << 40, 72, 72, new byte[64])).Message);
        Assert.Contains("function table", RejectsPclntab(Pclntab118(1000, 72, 72, new byte[64])).Message);
        Assert.Contains("function table", RejectsPclntab(Pclntab118(1, 72, ulong.MaxValue - 3, new byte[64])).Message);
        Assert.Contains("Go 1.2", RejectsPclntab([0xfb, 0xff, 0xff, 0xff, 0, 0, 1, 8, .. new byte[64]]).Message);
        Assert.Contains("magic", RejectsPclntab([0x00, 0xff, 0xff, 0xff, 0, 0, 1, 8, .. new byte[64]]).Message);
        Assert.Contains("4-byte pointers", RejectsPclntab([0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 4, .. new byte[64]]).Message);

        // 200,000 functions whose names all point into one 16 KiB run without a NUL: the
        // name budget stops it long before 200,000 × 16 KiB bytes are scanned.
        const int n = 200_000;
        int names = 72, functab = names + 16 * 1024 + 8;
        var body = new byte[functab - 72 + (2 * n + 1) * 4 + n * 8];
        body.AsSpan(0, 16 * 1024).Fill((byte)'A');
        for (int i = 0; i <= n; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(functab - 72 + i * 8), (uint)i * 16); // entryoff
        for (int i = 0; i < n; i++)
        {
            int record = (2 * n + 1) * 4 + i * 8;                                                      // funcoff, relative to functab
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(functab - 72 + i * 8 + 4), (uint)record);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(functab - 72 + record), (uint)i * 16); // _func.entryOff
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(functab - 72 + record + 4), (uint)(i % 1000)); // nameOff
        }
        var clock = Stopwatch.StartNew();
        var e = RejectsPclntab(Pclntab118(n, (ulong)names, (ulong)functab, body));
        Assert.True(clock.Elapsed < PerParseLimit, $"{clock.ElapsedMilliseconds} ms");
        Assert.Contains(".gopclntab", e.Message);
    }

    [Fact]
    public void DecompressionBombsAreCapped()
    {
        ElfFile Debug(byte[] body) => ElfFile.Parse(new SyntheticElf()
            .Section(".debug_info", body, flags: SyntheticElf.ShfCompressed)
            .Section(".debug_abbrev", [0]).Build());

        // A header claiming 2^40 bytes: refused before any allocation.
        var e = Assert.Throws<GoBinaryException>(() => DwarfStructs.TryLoad(Debug(DwarfStructsTests.Compressed(new byte[100], 1ul << 40))));
        Assert.Contains("MiB", e.Message);
        // 200 MiB (under the cap) claimed by a few bytes: beyond what deflate can expand.
        e = Assert.Throws<GoBinaryException>(() => DwarfStructs.TryLoad(Debug(DwarfStructsTests.Compressed(new byte[100], 200ul << 20))));
        Assert.Contains("cannot inflate", e.Message);
        // A real bomb, 64 MiB of zeros in ~64 KiB, claiming 1 KiB: inflation stops at the claim.
        var clock = Stopwatch.StartNew();
        e = Assert.Throws<GoBinaryException>(() => DwarfStructs.TryLoad(Debug(DwarfStructsTests.Compressed(new byte[64 << 20], 1024))));
        Assert.Contains("more than", e.Message);
        Assert.True(clock.Elapsed < PerParseLimit);
        // Claims more than the stream holds; a stream that is not zlib; zstd; a truncated header.
        e = Assert.Throws<GoBinaryException>(() => DwarfStructs.TryLoad(Debug(DwarfStructsTests.Compressed(new byte[1000], 5000))));
        Assert.Contains("truncated", e.Message);
        e = Assert.Throws<GoBinaryException>(() => DwarfStructs.TryLoad(Debug([.. DwarfStructsTests.Compressed(new byte[8])[..24], 1, 2, 3, 4, 5])));
        Assert.Contains("corrupt", e.Message);
        var zstd = DwarfStructsTests.Compressed(new byte[8]);
        zstd[0] = 2; // ELFCOMPRESS_ZSTD
        Assert.Contains("zstd", Assert.Throws<GoBinaryException>(() => DwarfStructs.TryLoad(Debug(zstd))).Message);
        Assert.Contains("truncated", Assert.Throws<GoBinaryException>(() => DwarfStructs.TryLoad(Debug([1, 0, 0]))).Message);
    }

    [Fact]
    public void AbsurdDwarfIsRejected()
    {
        var (info, abbrev, str, strOffsets) = DwarfStructsTests.SyntheticDwarf();
        GoBinaryException Rejects(byte[] i, byte[] a) => Assert.Throws<GoBinaryException>(() =>
        {
            var dwarf = DwarfStructs.TryLoad(ElfFile.Parse(new SyntheticElf()
                .Section(".debug_info", i).Section(".debug_abbrev", a).Section(".debug_str", str).Section(".debug_str_offsets", strOffsets).Build()));
            dwarf?.Fields("main.T");
        });

        var hugeUnit = (byte[])info.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(hugeUnit, 0xfffffff0);
        Assert.Contains("reserved", Rejects(hugeUnit, abbrev).Message);
        BinaryPrimitives.WriteUInt32LittleEndian(hugeUnit, 0x7fffffff);
        Assert.Contains("truncated", Rejects(hugeUnit, abbrev).Message);
        var badVersion = (byte[])info.Clone();
        badVersion[4] = 9;
        Assert.Contains("version", Rejects(badVersion, abbrev).Message);
        var badAbbrevOffset = (byte[])info.Clone();
        badAbbrevOffset[8] = 0xff;
        Assert.Contains("abbreviation", Rejects(badAbbrevOffset, abbrev).Message);
        var undefinedCode = (byte[])info.Clone();
        undefinedCode[12] = 77; // the root DIE's abbreviation code
        Assert.Contains("abbreviation code", Rejects(undefinedCode, abbrev).Message);
        var unknownForm = (byte[])abbrev.Clone();
        unknownForm[4] = 0x7f; // compile_unit's str_offsets_base form
        Assert.Contains("form", Rejects(info, unknownForm).Message);
        var indirectLoop = (byte[])abbrev.Clone();
        indirectLoop[4] = 0x16; // DW_FORM_indirect, whose form in the DIE (8) is then... see below
        var indirectInfo = (byte[])info.Clone();
        indirectInfo[13] = 0x16; // ...DW_FORM_indirect again
        Assert.Contains("indirect", Rejects(indirectInfo, indirectLoop).Message);
        var unterminatedAbbrev = abbrev[..12];
        Assert.Contains(".debug_abbrev", Rejects(info, unterminatedAbbrev).Message);
        var strIndexOut = (byte[])info.Clone();
        strIndexOut[18] = 200; // main.T's strx1 index
        Assert.Contains("string index 200", Rejects(strIndexOut, abbrev).Message);
    }

    [Fact]
    public void UnreadableAndOversizedFilesAreRejectedWithAClearMessage()
    {
        Assert.Contains("cannot read", Assert.Throws<GoBinaryException>(() => GoExecutable.Open("/nonexistent/sonde/binary")).Message);
        Assert.Contains("cannot read", Assert.Throws<GoBinaryException>(() => GoExecutable.Open(Path.GetTempPath())).Message);
        Assert.Contains("empty", Assert.Throws<GoBinaryException>(() => GoExecutable.Open("/dev/null")).Message);
        // The test host is an ELF program, but not a Go one.
        Assert.Contains("is not a Go program", Assert.Throws<GoBinaryException>(() => GoExecutable.Open("/proc/self/exe")).Message);

        var big = Path.Combine(GoTestBinaries.TemporaryDirectory(), "big");
        try
        {
            using (var f = File.Create(big))
                f.SetLength(GoExecutable.MaxFileSize + 1); // sparse: no disk used
            Assert.Contains("larger than", Assert.Throws<GoBinaryException>(() => GoExecutable.Open(big)).Message);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(big)!, recursive: true);
        }
    }
}
