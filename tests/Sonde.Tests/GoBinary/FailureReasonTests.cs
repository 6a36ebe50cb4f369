using System.Buffers.Binary;
using Sonde.GoBinary;

namespace Sonde.Tests.GoBinary;

/// <summary>
/// Each way a binary can't be traced has its own reason, which `sonde run`
/// counts in sonde_probe_attach_failures_total{reason}: a user can tell a
/// shell script from an old Go, a newer Go, a 32-bit build or a damaged file.
/// </summary>
public sealed class FailureReasonTests
{
    private static string ReasonOf(byte[] image) =>
        Assert.Throws<GoBinaryException>(() => GoExecutable.Load(image, "target")).Reason;

    private static byte[] WithPclntabMagic(uint magic)
    {
        var image = File.ReadAllBytes(GoTestBinaries.PathOf("go1.27/nethttp-stripped"));
        var pclntab = ElfFile.Parse(image).Section(".gopclntab")!;
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan((int)pclntab.Offset), magic);
        return image;
    }

    [Fact]
    public void Not_ELF_is_not_a_Go_binary() => Assert.Equal("not_a_go_binary", ReasonOf("#!/bin/sh\necho hi\n"u8.ToArray()));

    [Fact]
    public void An_ELF_without_a_pclntab_is_not_a_Go_binary() =>
        Assert.Equal("not_a_go_binary", ReasonOf(File.ReadAllBytes("/bin/true")));

    [Fact]
    public void A_Go_before_1_16_is_an_old_Go_version() => Assert.Equal("old_go_version", ReasonOf(WithPclntabMagic(Pclntab.Magic12)));

    [Fact]
    public void An_unknown_pclntab_magic_is_an_unknown_Go_version()
    {
        var e = Assert.Throws<GoBinaryException>(() => GoExecutable.Load(WithPclntabMagic(0xfffffff2), "target"));
        Assert.Equal("unknown_go_version", e.Reason);
        Assert.Contains("a Go newer than 1.27", e.Message);
    }

    [Fact]
    public void A_32_bit_ELF_is_an_unsupported_architecture()
    {
        var image = File.ReadAllBytes("/bin/true");
        image[4] = 1;   // EI_CLASS: ELFCLASS32
        Assert.Equal("unsupported_architecture", ReasonOf(image));
    }

    [Fact]
    public void A_damaged_Go_binary_is_a_corrupt_binary()
    {
        var image = File.ReadAllBytes(GoTestBinaries.PathOf("go1.27/nethttp-stripped"));
        var pclntab = ElfFile.Parse(image).Section(".gopclntab")!;
        Assert.Equal("corrupt_binary", ReasonOf(image[..(int)(pclntab.Offset + 64)]));
    }
}
