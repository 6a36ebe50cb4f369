using System.Buffers.Binary;
using System.Text;
using Sonde.GoBinary;

namespace Sonde.Tests.GoBinary;

public sealed class GoBuildInfoTests
{
    // cmd/go/internal/modload/build.go infoStart/infoEnd: the sentinels around the module text.
    private static readonly byte[] InfoStart = Convert.FromHexString("3077af0c9274080241e1c107e6d618e6");
    private static readonly byte[] InfoEnd = Convert.FromHexString("f932433186182072008242104116d8f2");
    private static readonly byte[] Magic = [0xff, .. " Go buildinf:"u8];

    private const string ModText =
        "path\texample.com/shop/cmd/shop\n" +
        "mod\texample.com/shop\t(devel)\t\n" +
        "dep\tgithub.com/gin-gonic/gin\tv1.9.1\th1:4idEAncQnU5cB7BeOkPtxjfCSye0AAm1R0RVIqJ+Jmg=\n" +
        "dep\tgolang.org/x/net\tv0.10.0\n" +
        "=>\tgolang.org/x/net\tv0.12.0\th1:abc=\n" +
        "dep\tgithub.com/local/thing\tv1.0.0\n" +
        "=>\t../thing\t\t\n" +
        "build\t-buildmode=exe\n" +
        "build\tCGO_ENABLED=0\n" +
        "build\t-ldflags=\"-s -w\"\n" +
        "build\t\"odd key\"=v\n";

    private static byte[] Framed(string text) => [.. InfoStart, .. Encoding.UTF8.GetBytes(text), .. InfoEnd];

    private static byte[] Uvarint(int value)
    {
        var bytes = new List<byte>();
        uint v = (uint)value;
        while (v >= 0x80)
        {
            bytes.Add((byte)(v | 0x80));
            v >>= 7;
        }
        bytes.Add((byte)v);
        return [.. bytes];
    }

    private static void AssertShop(GoBuildInfo info, string version)
    {
        Assert.Equal(version, info.GoVersion);
        Assert.Equal("example.com/shop/cmd/shop", info.MainPath);
        Assert.Equal("example.com/shop", info.MainModule);
        Assert.Equal("(devel)", info.Modules["example.com/shop"]);
        Assert.Equal("v1.9.1", info.Modules["github.com/gin-gonic/gin"]);
        Assert.Equal("v0.12.0", info.Modules["golang.org/x/net"]);      // the replacement is what was compiled
        Assert.Equal("v1.0.0", info.Modules["github.com/local/thing"]); // replaced by a directory: keeps its version
        Assert.Equal(4, info.Modules.Count);
        Assert.Equal("exe", info.Settings["-buildmode"]);
        Assert.Equal("0", info.Settings["CGO_ENABLED"]);
        Assert.Equal("-s -w", info.Settings["-ldflags"]);
        Assert.Equal("v", info.Settings["odd key"]);
    }

    [Fact]
    public void InlineFormatOfGo118AndLater()
    {
        var header = new byte[32];
        Magic.CopyTo(header, 0);
        header[14] = 8;
        header[15] = 0x2; // flagsVersionInl
        var mod = Framed(ModText);
        byte[] blob = [.. header, .. Uvarint(8), .. "go1.21.4"u8, .. Uvarint(mod.Length), .. mod];
        var elf = ElfFile.Parse(new SyntheticElf().Section(".go.buildinfo", blob, 0x600000, 3).Load(".go.buildinfo").Build());
        var info = GoBuildInfo.Parse(elf);
        AssertShop(info, "go1.21.4");
        Assert.Equal(new GoVersion(1, 21, 4), info.Version);
    }

    /// <summary>Before 1.18: the header holds pointers to Go string headers {data, len}.</summary>
    private static byte[] PointerFormatBlob(ulong address, string version, byte[] mod)
    {
        var blob = new byte[64 + version.Length + mod.Length];
        Magic.CopyTo(blob, 0);
        blob[14] = 8;
        blob[15] = 0x0; // flagsVersionPtr, little-endian
        BinaryPrimitives.WriteUInt64LittleEndian(blob.AsSpan(16), address + 32);
        BinaryPrimitives.WriteUInt64LittleEndian(blob.AsSpan(24), address + 48);
        BinaryPrimitives.WriteUInt64LittleEndian(blob.AsSpan(32), address + 64);
        BinaryPrimitives.WriteUInt64LittleEndian(blob.AsSpan(40), (ulong)version.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(blob.AsSpan(48), address + 64 + (ulong)version.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(blob.AsSpan(56), (ulong)mod.Length);
        Encoding.ASCII.GetBytes(version).CopyTo(blob, 64);
        mod.CopyTo(blob, 64 + version.Length);
        return blob;
    }

    [Fact]
    public void PointerFormatBeforeGo118()
    {
        const ulong address = 0x700000;
        var blob = PointerFormatBlob(address, "go1.16.15", Framed(ModText));
        var elf = ElfFile.Parse(new SyntheticElf().Section(".go.buildinfo", blob, address, 3).Load(".go.buildinfo").Build());
        AssertShop(GoBuildInfo.Parse(elf), "go1.16.15");
    }

    [Fact]
    public void WithoutTheSectionTheAlignedMagicIsFoundInTheDataSegment()
    {
        const ulong address = 0x700000;
        byte[] misaligned = [.. new byte[5], .. Magic, .. new byte[13]];  // an unaligned decoy
        byte[] blob = [.. misaligned, .. PointerFormatBlob(address + (ulong)misaligned.Length, "go1.17.13", Framed(ModText))];
        Assert.Equal(32, misaligned.Length);
        var elf = ElfFile.Parse(new SyntheticElf().Section(".data", blob, address, 3).Load(".data").Build());
        AssertShop(GoBuildInfo.Parse(elf), "go1.17.13");
    }

    [Fact]
    public void ModuleTextWithoutSentinelsIsIgnoredAsGoDoes()
    {
        var header = new byte[32];
        Magic.CopyTo(header, 0);
        header[14] = 8;
        header[15] = 0x2;
        var mod = Encoding.UTF8.GetBytes(ModText);
        byte[] blob = [.. header, .. Uvarint(8), .. "go1.20.1"u8, .. Uvarint(mod.Length), .. mod];
        var info = GoBuildInfo.Parse(ElfFile.Parse(new SyntheticElf().Section(".go.buildinfo", blob, 0x600000).Load(".go.buildinfo").Build()));
        Assert.Equal("go1.20.1", info.GoVersion);
        Assert.Null(info.MainPath);
        Assert.Empty(info.Modules);
    }

    [Fact]
    public void AProgramWithoutBuildInformationIsNotAGoProgram()
    {
        var elf = ElfFile.Parse(new SyntheticElf().Section(".data", new byte[256], 0x600000).Load(".data").Build());
        var e = Assert.Throws<GoBinaryException>(() => GoBuildInfo.Parse(elf));
        Assert.Contains("not a Go program", e.Message);
    }

    /// <summary>
    /// Static, stripped binaries whose .go.buildinfo objcopy removed after linking
    /// (they still run): the version comes from runtime.buildVersion and equals what
    /// `go version` prints for the same toolchain's build that kept its build info;
    /// module versions are unknown, and the attach line says both.
    /// </summary>
    [Theory]
    [InlineData("nethttp-nobuildinfo", "nethttp-static")]
    [InlineData("go1.27/nethttp-nobuildinfo", "go1.27/nethttp-static")]
    [InlineData("go1.27/gin-nobuildinfo", "go1.27/gin-static")]
    public void WithoutBuildInformationTheVersionComesFromRuntimeBuildVersion(string server, string withBuildInfo)
    {
        var elf = ElfFile.Parse(File.ReadAllBytes(GoTestBinaries.PathOf(server)));
        Assert.Null(elf.Section(".go.buildinfo"));
        Assert.Equal("not a Go program: no Go build information (.go.buildinfo)", Assert.Throws<GoBinaryException>(() => GoBuildInfo.Parse(elf)).Message);

        var exe = GoTestBinaries.Open(server);
        var reference = GoTestBinaries.Open(withBuildInfo);
        Assert.False(reference.BuildInfo.FromBuildVersionOnly);
        Assert.True(exe.BuildInfo.FromBuildVersionOnly);
        Assert.Equal(reference.BuildInfo.GoVersion, exe.BuildInfo.GoVersion);
        Assert.Empty(exe.BuildInfo.Modules);
        Assert.Contains("no .go.buildinfo: version from runtime.buildVersion, module versions unknown", exe.BuildInfo.Described);
    }

    [Fact]
    public void ABuildVersionThePclntabMagicRulesOutIsNotTaken()
    {
        var elf = ElfFile.Parse(File.ReadAllBytes(GoTestBinaries.PathOf("go1.27/nethttp-nobuildinfo")));
        Assert.NotNull(GoBuildInfo.FromBuildVersion(elf, Pclntab.Magic120));
        // A go1.27 version string in a binary whose pclntab says Go 1.18-1.19 (or 1.16-1.17) is no answer.
        Assert.Null(GoBuildInfo.FromBuildVersion(elf, Pclntab.Magic118));
        Assert.Null(GoBuildInfo.FromBuildVersion(elf, Pclntab.Magic116));
    }

    [Theory]
    [InlineData("nethttp")]
    [InlineData("nethttp-stripped")]
    [InlineData("nethttp-pie")]
    [InlineData("nethttp-static")]
    [InlineData("gin")]
    public void GoVersionIsWhatGoVersionPrints(string server)
    {
        var exe = GoTestBinaries.Open(server);
        // `go version FILE` prints "FILE: go1.19.8".
        var printed = GoTestBinaries.Run("go", ["version", exe.Path]).Trim();
        Assert.Equal($"{exe.Path}: {exe.BuildInfo.GoVersion}", printed);
        Assert.True(exe.BuildInfo.Version >= new GoVersion(1, 16, 0));
        // GOPATH-mode builds record the package's directory ("_/.../tests/goservers/gin"), no modules.
        Assert.StartsWith("_/", exe.BuildInfo.MainPath);
        Assert.Contains("/tests/goservers/", exe.BuildInfo.MainPath);
        Assert.Null(exe.BuildInfo.MainModule);
        Assert.Empty(exe.BuildInfo.Modules);
        Assert.Equal("amd64", exe.BuildInfo.Settings["GOARCH"]);
    }

    [Fact]
    public void ModuleModeBuildNamesItsMainModule()
    {
        var dir = GoTestBinaries.TemporaryDirectory();
        try
        {
            File.WriteAllText(Path.Combine(dir, "go.mod"), "module example.com/sondeprobe\n\ngo 1.19\n");
            File.WriteAllText(Path.Combine(dir, "main.go"), "package main\n\nfunc main() { println(\"sonde\") }\n");
            var app = GoTestBinaries.GoBuild(dir, Path.Combine(dir, "app"), moduleMode: true);
            var info = GoExecutable.Open(app).BuildInfo;
            Assert.Equal("example.com/sondeprobe", info.MainPath);
            Assert.Equal("example.com/sondeprobe", info.MainModule);
            Assert.Equal("(devel)", info.Modules["example.com/sondeprobe"]);
            Assert.Equal(GoTestBinaries.Run("go", ["env", "GOVERSION"]).Trim(), info.GoVersion);
            // `go version -m` lists the same module lines.
            var listed = GoTestBinaries.Run("go", ["version", "-m", app]);
            Assert.Contains("\tmod\texample.com/sondeprobe\t(devel)", listed);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("go1.19.8", 1, 19, 8)]
    [InlineData("go1.20", 1, 20, 0)]
    [InlineData("go1.21rc2", 1, 21, 0)]
    [InlineData("go1.22beta1", 1, 22, 0)]
    [InlineData("go1.22.1 X:boringcrypto", 1, 22, 1)]
    [InlineData("go1.21.0-bigcorp", 1, 21, 0)]
    [InlineData("go1", 1, 0, 0)]
    public void VersionsParse(string text, int major, int minor, int patch)
    {
        Assert.True(GoVersion.TryParse(text, out var version));
        Assert.Equal(new GoVersion(major, minor, patch), version);
    }

    [Theory]
    [InlineData("devel go1.23-abcdef Tue Jan 2 15:04:05 2024")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("go")]
    [InlineData("go1.")]
    [InlineData("1.19.8")]
    [InlineData("go1.19x")]
    [InlineData("go99999999.1")]
    public void NonReleasesDoNotParse(string? text) => Assert.False(GoVersion.TryParse(text, out _));

    [Fact]
    public void VersionsOrder()
    {
        Assert.True(new GoVersion(1, 19, 8) < new GoVersion(1, 20, 0));
        Assert.True(new GoVersion(1, 21, 10) > new GoVersion(1, 21, 9));
        Assert.Equal("go1.19.8", new GoVersion(1, 19, 8).ToString());
    }
}
