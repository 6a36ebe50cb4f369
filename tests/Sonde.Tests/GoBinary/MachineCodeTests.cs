using System.Globalization;
using System.Text.RegularExpressions;
using Iced.Intel;
using Sonde.GoBinary;
using static Iced.Intel.Register;

namespace Sonde.Tests.GoBinary;

public sealed partial class MachineCodeTests
{
    private const string ServeHttp = "net/http.serverHandler.ServeHTTP";
    private const string ConnServe = "net/http.(*conn).serve";
    private const string HandleHttpRequest = "github.com/gin-gonic/gin.(*Engine).handleHTTPRequest";

    /// <summary>objdump's disassembly of one function: (address, mnemonic, operands).</summary>
    private static List<(ulong Address, string Mnemonic, string Operands)> Objdump(GoExecutable exe, GoFunction f)
    {
        var output = GoTestBinaries.Run("objdump", ["-d", "--no-show-raw-insn",
            $"--start-address=0x{f.Entry:x}", $"--stop-address=0x{f.End:x}", exe.Path]);
        var lines = new List<(ulong, string, string)>();
        foreach (Match m in ObjdumpLine().Matches(output))
            lines.Add((ulong.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                m.Groups[2].Value, m.Groups[3].Value));
        Assert.NotEmpty(lines);
        return lines;
    }

    [GeneratedRegex(@"^[ \t]*([0-9a-f]+):\t(\S+)[ \t]*(.*)$", RegexOptions.Multiline)]
    private static partial Regex ObjdumpLine();

    [Theory]
    [InlineData("nethttp", ServeHttp)]
    [InlineData("nethttp", ConnServe)]
    [InlineData("nethttp-pie", ServeHttp)]
    [InlineData("gin", ServeHttp)]
    [InlineData("gin", ConnServe)]
    [InlineData("gin", HandleHttpRequest)]
    public void ReturnsAreObjdumpsRetInstructions(string server, string function)
    {
        var exe = GoTestBinaries.Open(server);
        var f = exe.Functions.Find(function)!;
        var expected = Objdump(exe, f).Where(l => l.Mnemonic is "ret" or "retq").Select(l => l.Address).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, MachineCode.FindReturns(f, exe.Code(f)));
    }

    [Theory]
    [InlineData("nethttp")]
    [InlineData("gin")]
    public void EntryProbeIsThePrologueJbe(string server)
    {
        var exe = GoTestBinaries.Open(server);
        var f = exe.Functions.Find(ServeHttp)!;
        ulong probe = MachineCode.ChooseEntryProbe(f, exe.Code(f), MachineCode.GoEntryRegisters);
        // go1.19: lea r12,[rsp-N] (5 bytes); cmp r12,[r14+0x10] (4 bytes); jbe morestack.
        Assert.Equal(f.Entry + 9, probe);
        var instruction = MachineCode.Decode(f, exe.Code(f)).Single(i => i.IP == probe);
        Assert.True(instruction.IsJccShortOrNear);
        Assert.Equal(Mnemonic.Jbe, instruction.Mnemonic);
        Assert.True(MachineCode.IsEmulatedByUprobes(instruction));
    }

    [Theory]
    [InlineData("nethttp")]
    [InlineData("gin")]
    public void HandlerEndIsTheFirstEmulatedInstructionAfterTheServeHttpCall(string server)
    {
        var exe = GoTestBinaries.Open(server);
        var serve = exe.Functions.Find(ConnServe)!;
        var handler = exe.Functions.Find(ServeHttp)!;
        var code = exe.Code(serve);

        var calls = MachineCode.FindCallsTo(serve, code, handler.Entry);
        var objdumpCalls = Objdump(exe, serve)
            .Where(l => l.Mnemonic.StartsWith("call", StringComparison.Ordinal) && l.Operands.EndsWith($"<{ServeHttp}>", StringComparison.Ordinal))
            .Select(l => l.Address).ToList();
        Assert.Single(calls);
        Assert.Equal(objdumpCalls, calls);

        ulong afterCall = calls[0] + 5;
        ulong? end = MachineCode.FirstEmulatableAfter(serve, code, afterCall);
        Assert.NotNull(end);
        Assert.True(serve.Contains(end.Value));
        var instructions = MachineCode.Decode(serve, code);
        var found = instructions.Single(i => i.IP == end.Value);
        Assert.True(MachineCode.IsEmulatedByUprobes(found));
        // Straight line: nothing between the call's return and the probe branches away.
        foreach (var i in instructions.Where(i => i.IP >= afterCall && i.IP < end.Value))
            Assert.Contains(i.FlowControl, new[] { FlowControl.Next, FlowControl.IndirectCall, FlowControl.Call });
    }

    [Fact]
    public void GinContextNextIsInlinedIntoHandleHttpRequestSoItsChainIsCalledIndirectly()
    {
        // Gin 1.8.1 built by go1.19 inlines (*Context).Next everywhere; no function remains to call.
        var exe = GoTestBinaries.Open("gin");
        Assert.Null(exe.Functions.Find("github.com/gin-gonic/gin.(*Context).Next"));
        var handle = exe.Functions.Find(HandleHttpRequest)!;
        var code = exe.Code(handle);
        Assert.Contains(MachineCode.Decode(handle, code), i => i.FlowControl == FlowControl.IndirectCall);

        // Every direct call objdump sees, FindCallsTo finds by its target.
        var direct = Objdump(exe, handle).Where(l => l.Mnemonic.StartsWith("call", StringComparison.Ordinal) && !l.Operands.StartsWith('*')).ToList();
        Assert.NotEmpty(direct);
        foreach (var (address, _, operands) in direct)
        {
            ulong target = ulong.Parse(operands.Split(' ')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            Assert.Contains(address, MachineCode.FindCallsTo(handle, code, target));
        }
        var getValue = exe.Functions.Find("github.com/gin-gonic/gin.(*node).getValue")!;
        Assert.Equal(2, MachineCode.FindCallsTo(handle, code, getValue.Entry).Count);
    }

    private static Instruction DecodeOne(byte[] bytes)
    {
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(bytes), 0x1000);
        decoder.Decode(out var instruction);
        Assert.False(instruction.IsInvalid);
        Assert.Equal(bytes.Length, instruction.Length);
        return instruction;
    }

    [Theory]
    [InlineData(true, "90")]                // nop
    [InlineData(true, "6690")]              // xchg ax,ax: the 2-byte nop
    [InlineData(true, "7605")]              // jbe rel8
    [InlineData(true, "0f8654030000")]      // jbe rel32
    [InlineData(true, "eb00")]              // jmp rel8
    [InlineData(true, "e900010000")]        // jmp rel32
    [InlineData(true, "e800010000")]        // call rel32
    [InlineData(true, "55")]                // push rbp
    [InlineData(true, "4155")]              // push r13
    [InlineData(false, "4855")]             // push rbp with a REX.W the kernel refuses
    [InlineData(false, "660f8654030000")]   // 0x66-prefixed jcc: refused
    [InlineData(false, "f390")]             // pause
    [InlineData(false, "0f1f00")]           // nopl: not on every kernel
    [InlineData(false, "c3")]               // ret
    [InlineData(false, "c20800")]           // ret imm16
    [InlineData(false, "ffd1")]             // call rcx
    [InlineData(false, "ffe0")]             // jmp rax
    [InlineData(false, "e300")]             // jrcxz
    [InlineData(false, "e200")]             // loop
    [InlineData(false, "4c8d6424d8")]       // lea r12,[rsp-0x28]
    [InlineData(false, "4d3b6610")]         // cmp r12,[r14+0x10]
    [InlineData(false, "4889e5")]           // mov rbp,rsp
    [InlineData(false, "cc")]               // int3
    public void EmulatedInstructionsAreTheKernelsBranchNopAndPushForms(bool emulated, string hex) =>
        Assert.Equal(emulated, MachineCode.IsEmulatedByUprobes(DecodeOne(Convert.FromHexString(hex))));

    private static GoFunction Synthetic(byte[] code) => new("synthetic", 0x1000, 0x1000 + (ulong)code.Length);

    [Fact]
    public void EntryProbeStaysAtEntryWhenThePrologueDisturbsWhatTheProbeReads()
    {
        byte[] jbe = [0x76, 0x10];
        byte[] cmp = [0x49, 0x3b, 0x66, 0x10];                  // cmp rsp,[r14+0x10]
        byte[] subRsp = [0x48, 0x83, 0xec, 0x18];               // sub rsp,0x18
        byte[] movRax = [0xb8, 0x01, 0x00, 0x00, 0x00];         // mov eax,1 (writes RAX)
        byte[] store = [0x48, 0x89, 0x04, 0x24];                // mov [rsp],rax
        byte[] ret = [0xc3];
        byte[] nop5 = [0x0f, 0x1f, 0x44, 0x00, 0x00];

        ulong Choose(byte[] code, params Register[] intact) => MachineCode.ChooseEntryProbe(Synthetic(code), code, intact);

        Assert.Equal(0x1004ul, Choose([.. cmp, .. jbe], RAX, R14));
        Assert.Equal(0x1000ul, Choose([.. jbe], RAX));
        Assert.Equal(0x1000ul, Choose([.. subRsp, .. jbe]));
        Assert.Equal(0x1000ul, Choose([.. movRax, .. jbe], RAX));
        Assert.Equal(0x1005ul, Choose([.. movRax, .. jbe], RBX));
        Assert.Equal(0x1000ul, Choose([.. store, .. jbe]));
        Assert.Equal(0x1000ul, Choose([.. ret, .. jbe]));
        // Only the first EntryProbeWindow instructions are considered.
        byte[] longPrologue = [.. nop5, .. nop5, .. nop5, .. nop5, .. nop5, .. nop5, .. jbe];
        Assert.Equal(0x1000ul, Choose(longPrologue));
        Assert.Equal(0x1000ul, Choose([0xff, 0xff]));            // undecodable
    }

    [Fact]
    public void StraightLineWalkStopsAtWhatControlMightNotComeBackFrom()
    {
        byte[] mov = [0x48, 0x89, 0xc3];                         // mov rbx,rax
        byte[] callRcx = [0xff, 0xd1];
        byte[] call = [0xe8, 0x00, 0x00, 0x00, 0x00];
        byte[] ret = [0xc3];
        byte[] jmpRax = [0xff, 0xe0];
        byte[] ud2 = [0x0f, 0x0b];

        ulong? After(byte[] code) => MachineCode.FirstEmulatableAfter(Synthetic(code), code, 0x1000);

        Assert.Equal(0x1005ul, After([.. mov, .. callRcx, .. call]));
        Assert.Equal(0x1003ul, After([.. mov, 0x90]));
        Assert.Null(After([.. mov, .. ret, .. call]));
        Assert.Null(After([.. mov, .. jmpRax, .. call]));
        Assert.Null(After([.. ud2, .. call]));
        Assert.Null(After([0xcc, .. call]));
        Assert.Null(After([.. mov, .. mov]));                     // runs off the end
        Assert.Null(After(Enumerable.Repeat(mov, 40).SelectMany(b => b).Concat(call).ToArray()));
        Assert.Null(MachineCode.FirstEmulatableAfter(Synthetic(call), call, 0x2000)); // outside the function
    }
}
