using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Sonde.GoBinary;

namespace Sonde.Tests.GoBinary;

public sealed partial class DwarfStructsTests
{
    /// <summary>
    /// A GOPATH-mode program that prints, as Go itself computes them, the
    /// offsets of every field of the structs Sonde reads that reflection can
    /// reach (net/http.response through a live ResponseWriter).
    /// </summary>
    private const string OffsetsProgram = """
        package main

        import (
        	"fmt"
        	"io"
        	"net"
        	"net/http"
        	"net/url"
        	"reflect"
        	"unsafe"

        	"github.com/gin-gonic/gin"
        )

        func dump(t reflect.Type) {
        	for i := 0; i < t.NumField(); i++ {
        		f := t.Field(i)
        		fmt.Printf("%s.%s\t%s\t%d\n", t.PkgPath(), t.Name(), f.Name, f.Offset)
        	}
        }

        func main() {
        	fmt.Printf("net/http.Request\tMethod\t%d\n", unsafe.Offsetof(http.Request{}.Method))
        	fmt.Printf("net/http.Request\tURL\t%d\n", unsafe.Offsetof(http.Request{}.URL))
        	fmt.Printf("net/url.URL\tPath\t%d\n", unsafe.Offsetof(url.URL{}.Path))
        	dump(reflect.TypeOf(http.Request{}))
        	dump(reflect.TypeOf(url.URL{}))
        	dump(reflect.TypeOf(gin.Context{}))
        	ln, err := net.Listen("tcp", "127.0.0.1:0")
        	if err != nil {
        		panic(err)
        	}
        	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
        		dump(reflect.TypeOf(w).Elem()) // *net/http.response
        	}))
        	resp, err := http.Get("http://" + ln.Addr().String() + "/")
        	if err != nil {
        		panic(err)
        	}
        	io.Copy(io.Discard, resp.Body)
        	resp.Body.Close()
        }
        """;

    [Fact]
    public void OffsetsEqualWhatGoComputesForTheSameProgram()
    {
        var dir = GoTestBinaries.TemporaryDirectory();
        try
        {
            File.WriteAllText(Path.Combine(dir, "main.go"), OffsetsProgram);
            var app = GoTestBinaries.GoBuild(dir, Path.Combine(dir, "offsets"));
            var printed = GoTestBinaries.Run(app, []);
            var dwarf = GoExecutable.Open(app).Dwarf;
            Assert.NotNull(dwarf);

            var perStruct = new Dictionary<string, int>();
            foreach (var line in printed.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split('\t');
                var (structName, field, offset) = (parts[0], parts[1], int.Parse(parts[2], CultureInfo.InvariantCulture));
                Assert.True(offset == dwarf.FieldOffset(structName, field), $"{structName}.{field}: Go says {offset}, DWARF {dwarf.FieldOffset(structName, field)}");
                perStruct[structName] = perStruct.GetValueOrDefault(structName) + 1;
            }
            Assert.Equal(["github.com/gin-gonic/gin.Context", "net/http.Request", "net/http.response", "net/url.URL"], perStruct.Keys.Order());
            // Every field Go lists, and no more (the three unsafe.Offsetof lines repeat fields of Request and URL).
            Assert.Equal(perStruct["net/http.Request"] - 2, dwarf.Fields("net/http.Request")!.Count);
            Assert.Equal(perStruct["net/url.URL"] - 1, dwarf.Fields("net/url.URL")!.Count);
            Assert.Equal(perStruct["net/http.response"], dwarf.Fields("net/http.response")!.Count);
            Assert.Equal(perStruct["github.com/gin-gonic/gin.Context"], dwarf.Fields("github.com/gin-gonic/gin.Context")!.Count);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TheFieldsSondeReadsAreInTheGinServer()
    {
        var dwarf = GoTestBinaries.Open("gin").Dwarf;
        Assert.NotNull(dwarf);
        Assert.NotNull(dwarf.FieldOffset("runtime.g", "goid"));
        Assert.NotNull(dwarf.FieldOffset("net/http.response", "status"));
        Assert.NotNull(dwarf.FieldOffset("github.com/gin-gonic/gin.Context", "fullPath"));
        Assert.Equal(0, dwarf.FieldOffset("net/http.Request", "Method"));
        Assert.NotNull(dwarf.FieldOffset("net/url.URL", "Path"));
        Assert.Null(dwarf.FieldOffset("runtime.g", "noSuchField"));
        Assert.Null(dwarf.FieldOffset("no/such.Struct", "goid"));
        Assert.Null(dwarf.Fields("no/such.Struct"));
    }

    [Theory]
    [InlineData("nethttp-stripped")]
    [InlineData("gin-stripped")]
    public void StrippedBinaryHasNoDwarf(string server)
    {
        var exe = GoTestBinaries.Open(server);
        Assert.Null(DwarfStructs.TryLoad(exe.Elf));
        Assert.Null(exe.Dwarf);
        Assert.Null(exe.DwarfError);
    }

    /// <summary>Every struct, field offset and size equals what binutils' readelf decodes from the same file.</summary>
    [Fact]
    public void EveryStructEqualsReadelfsDecoding()
    {
        var exe = GoTestBinaries.Open("gin");
        var dwarf = exe.Dwarf!;
        var expected = ReadelfStructs(exe.Path);
        Assert.True(expected.Count > 500, $"readelf found {expected.Count} structs");
        Assert.Equal(expected.Count, dwarf.StructCount);
        foreach (var (name, (size, fields)) in expected)
        {
            Assert.True(dwarf.HasStruct(name), name);
            Assert.Equal(size, dwarf.StructSize(name));
            var actual = dwarf.Fields(name)!;
            Assert.True(fields.Count == actual.Count, $"{name}: readelf {fields.Count} fields, Sonde {actual.Count}");
            foreach (var (field, offset) in fields)
                Assert.True(actual.TryGetValue(field, out int got) && got == offset, $"{name}.{field}: readelf {offset}");
        }
    }

    private static Dictionary<string, (int? Size, Dictionary<string, int> Fields)> ReadelfStructs(string path)
    {
        var output = GoTestBinaries.Run("readelf", ["-z", "--debug-dump=info", path]);
        var structs = new Dictionary<string, (int?, Dictionary<string, int>)>(StringComparer.Ordinal);
        int structDepth = -1, depth = 0;
        string? tag = null, name = null, memberName = null;
        int? size = null;
        var fields = new Dictionary<string, int>(StringComparer.Ordinal);

        void Finish()
        {
            if (structDepth >= 0 && name is not null)
                structs.TryAdd(name, (size, fields));
            structDepth = -1;
        }

        foreach (var line in output.Split('\n'))
        {
            var die = ReadelfDie().Match(line);
            if (die.Success)
            {
                depth = int.Parse(die.Groups[1].Value, CultureInfo.InvariantCulture);
                tag = die.Groups[2].Value;
                memberName = null;
                if (depth <= structDepth)
                    Finish();
                if (tag == "DW_TAG_structure_type")
                {
                    (structDepth, name, size, fields) = (depth, null, null, new Dictionary<string, int>(StringComparer.Ordinal));
                }
                continue;
            }
            var attribute = ReadelfAttribute().Match(line);
            if (!attribute.Success || structDepth < 0)
                continue;
            var (key, value) = (attribute.Groups[1].Value, attribute.Groups[2].Value);
            if (depth == structDepth && key == "DW_AT_name")
                name = value;
            else if (depth == structDepth && key == "DW_AT_byte_size")
                size = int.Parse(value, CultureInfo.InvariantCulture);
            else if (depth == structDepth + 1 && tag == "DW_TAG_member" && key == "DW_AT_name")
                memberName = value;
            else if (depth == structDepth + 1 && tag == "DW_TAG_member" && key == "DW_AT_data_member_location" && memberName is not null)
                fields.TryAdd(memberName, int.Parse(value, CultureInfo.InvariantCulture));
        }
        Finish();
        return structs;
    }

    [GeneratedRegex(@"^\s*<(\d+)><[0-9a-f]+>: Abbrev Number: \d+ \((\w+)\)")]
    private static partial Regex ReadelfDie();

    [GeneratedRegex(@"^\s*<[0-9a-f]+>\s+(DW_AT_\w+)\s*: (.*)$")]
    private static partial Regex ReadelfAttribute();

    [Fact]
    public void IndexingATenMegabyteBinaryIsFast()
    {
        var image = File.ReadAllBytes(GoTestBinaries.PathOf("gin"));
        Assert.True(image.Length > 9_000_000);
        DwarfStructs.TryLoad(ElfFile.Parse(image)); // warm up the JIT
        var clock = Stopwatch.StartNew();
        var dwarf = DwarfStructs.TryLoad(ElfFile.Parse(image));
        var elapsed = clock.Elapsed;
        Assert.NotNull(dwarf);
        Assert.True(elapsed < TimeSpan.FromSeconds(0.5), $"DWARF indexing took {elapsed.TotalMilliseconds:F0} ms");
    }

    // --- Synthetic DWARF: forms Go 1.19 does not use (DWARF 5 string indexes, 64-bit DWARF, expressions) ---

    private static byte[] Zlib(byte[] data)
    {
        var output = new MemoryStream();
        using (var z = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(data);
        return output.ToArray();
    }

    /// <summary>An SHF_COMPRESSED section body: Elf64_Chdr {ELFCOMPRESS_ZLIB, 0, size, align} + zlib stream.</summary>
    internal static byte[] Compressed(byte[] data, ulong claimedSize = ulong.MaxValue)
    {
        var header = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), claimedSize == ulong.MaxValue ? (ulong)data.Length : claimedSize);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(16), 1);
        return [.. header, .. Zlib(data)];
    }

    /// <summary>A GNU-style .zdebug_* body: "ZLIB", the inflated size (8 bytes, big-endian), a zlib stream.</summary>
    private static byte[] GnuCompressed(byte[] data)
    {
        var size = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(size, (ulong)data.Length);
        return [.. "ZLIB"u8, .. size, .. Zlib(data)];
    }

    internal static (byte[] Info, byte[] Abbrev, byte[] Str, byte[] StrOffsets) SyntheticDwarf()
    {
        // .debug_abbrev: table at 0 for the DWARF 5 unit, table at 0x40 for the DWARF 4 one.
        // (code, tag, children, [attribute, form]..., 0, 0); DWARF 5 Tables 7.3, 7.5, 7.6.
        var abbrev = new byte[0x60];
        byte[] v5 =
        [
            1, 0x11, 1, 0x72, 0x17, 0, 0,                  // compile_unit: str_offsets_base sec_offset
            2, 0x13, 1, 0x03, 0x25, 0x0b, 0x0b, 0, 0,      // structure_type: name strx1, byte_size data1
            3, 0x0d, 0, 0x03, 0x0e, 0x38, 0x18, 0, 0,      // member: name strp, location exprloc
            4, 0x0d, 0, 0x03, 0x08, 0x38, 0x21, 24, 0, 0,  // member: name string, location implicit_const 24
            5, 0x0d, 1, 0x03, 0x08, 0, 0,                  // member with children (ignored fields inside)
            0,
        ];
        byte[] v4 =
        [
            1, 0x13, 1, 0x03, 0x08, 0x0b, 0x0f, 0, 0,      // structure_type: name string, byte_size udata
            2, 0x0d, 0, 0x03, 0x08, 0x38, 0x05, 0, 0,      // member: name string, location data2
            0,
        ];
        v5.CopyTo(abbrev, 0);
        v4.CopyTo(abbrev, 0x40);

        byte[] str = [0, .. "main.T\0Alpha\0"u8];           // "main.T" at 1, "Alpha" at 8
        byte[] strOffsets = [12, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0]; // header {length 8? , version 5, pad}, then [1]
        BinaryPrimitives.WriteUInt32LittleEndian(strOffsets, 8);

        byte[] unit5Body =
        [
            5, 0, 1, 8, 0, 0, 0, 0,                        // version 5, DW_UT_compile, address size 8, abbrev offset 0
            1, 8, 0, 0, 0,                                 // compile_unit, str_offsets_base = 8
            2, 0, 32,                                      // main.T (strx1 0), byte_size 32
            3, 8, 0, 0, 0, 2, 0x23, 8,                     // "Alpha" (strp 8), DW_OP_plus_uconst 8
            5, .. "Nested\0"u8,                            // a member without a location, with children...
            4, .. "Inner\0"u8,                             // ...whose own members are not main.T's
            0,
            4, .. "Beta\0"u8,                              // implicit_const 24
            0,                                             // end of main.T
            0,                                             // end of the unit
        ];
        byte[] unit4Body =
        [
            4, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 8,            // version 4, 64-bit abbrev offset 0x40, address size 8
            1, .. "main.U\0"u8, 0xc0, 0x02,                // main.U, byte_size 320 (udata)
            2, .. "X\0"u8, 0x2c, 0x01,                     // X at 300 (data2)
            0,
        ];
        var info = new List<byte>();
        var length = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)unit5Body.Length);
        info.AddRange(length);
        info.AddRange(unit5Body);
        info.AddRange([0xff, 0xff, 0xff, 0xff]);           // 64-bit DWARF
        var length64 = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length64, (ulong)unit4Body.Length);
        info.AddRange(length64);
        info.AddRange(unit4Body);
        return ([.. info], abbrev, str, strOffsets);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("SHF_COMPRESSED")]
    [InlineData(".zdebug")]   // Go 1.11-1.18
    public void SyntheticDwarf5StringIndexes64BitUnitsAndExpressionsAreRead(string compression)
    {
        var (info, abbrev, str, strOffsets) = SyntheticDwarf();
        var builder = compression switch
        {
            "SHF_COMPRESSED" => new SyntheticElf()
                .Section(".debug_info", Compressed(info), flags: SyntheticElf.ShfCompressed)
                .Section(".debug_abbrev", Compressed(abbrev), flags: SyntheticElf.ShfCompressed),
            ".zdebug" => new SyntheticElf()
                .Section(".zdebug_info", GnuCompressed(info))
                .Section(".zdebug_abbrev", GnuCompressed(abbrev)),
            _ => new SyntheticElf().Section(".debug_info", info).Section(".debug_abbrev", abbrev),
        };
        var elf = ElfFile.Parse(builder.Section(".debug_str", str).Section(".debug_str_offsets", strOffsets).Build());
        var dwarf = DwarfStructs.TryLoad(elf);
        Assert.NotNull(dwarf);
        Assert.Equal(2, dwarf.StructCount);
        Assert.Equal(8, dwarf.FieldOffset("main.T", "Alpha"));
        Assert.Equal(24, dwarf.FieldOffset("main.T", "Beta"));
        Assert.Null(dwarf.FieldOffset("main.T", "Inner"));
        Assert.Equal(["Alpha", "Beta"], dwarf.Fields("main.T")!.Keys.Order()); // "Nested" has no location
        Assert.Equal(32, dwarf.StructSize("main.T"));
        Assert.Equal(300, dwarf.FieldOffset("main.U", "X"));
        Assert.Equal(320, dwarf.StructSize("main.U"));
    }
}
