using Iced.Intel;
using static Iced.Intel.Register;

namespace Sonde.GoBinary;

/// <summary>
/// x86-64 decoding of Go functions (with Iced) to place uprobes: every RET,
/// the calls to a given function, and — because where a uprobe sits decides
/// what it costs — instructions the kernel emulates instead of
/// single-stepping out of line (~0.75 µs per hit instead of ~15 µs on these
/// VMs). Per Linux arch/x86/kernel/uprobes.c, branch_setup_xol_ops emulates
/// jmp rel8/rel32 (EB, E9), call rel32 (E8), jcc rel8/rel32 (70–7F, 0F 80–8F)
/// and nop (90), refusing any 0x66 prefix; push_setup_xol_ops (newer
/// kernels) emulates push of a register (50–57, or 41 50–57). Indirect
/// calls and jumps, and ret, are single-stepped. Linear decoding is sound
/// for Go: its compiler puts no data in text and pads with int3.
/// </summary>
public static class MachineCode
{
    /// <summary>How many instructions from a function's entry <see cref="ChooseEntryProbe"/> looks at.</summary>
    public const int EntryProbeWindow = 6;

    /// <summary>How many instructions <see cref="FirstEmulatableAfter"/> walks before giving up.</summary>
    public const int StraightLineLimit = 32;

    /// <summary>
    /// The registers a Go function's entry probe reads: the integer argument
    /// registers of ABIInternal (Go ≥ 1.17, src/cmd/compile/abi-internal.md:
    /// RAX, RBX, RCX, RDI, RSI, R8–R11) and R14, which holds the current g.
    /// </summary>
    public static Register[] GoEntryRegisters => [RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11, R14];

    /// <summary>All instructions of <paramref name="f"/>, decoded linearly from its entry.</summary>
    public static IReadOnlyList<Instruction> Decode(GoFunction f, ReadOnlySpan<byte> code)
    {
        ArgumentNullException.ThrowIfNull(f);
        var result = new List<Instruction>();
        var bytes = FunctionBytes(f, code);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes), f.Entry, DecoderOptions.None);
        ulong end = f.Entry + (ulong)bytes.Length;
        while (decoder.IP < end)
        {
            decoder.Decode(out var instruction);
            if (decoder.LastError == DecoderError.NoMoreBytes)
                break;
            result.Add(instruction);
        }
        return result;
    }

    /// <summary>The address of every near RET (C3, C2 imm16) in <paramref name="f"/>.</summary>
    public static IReadOnlyList<ulong> FindReturns(GoFunction f, ReadOnlySpan<byte> code)
    {
        var returns = new List<ulong>();
        foreach (var instruction in Decode(f, code))
            if (instruction.Mnemonic == Mnemonic.Ret)
                returns.Add(instruction.IP);
        return returns;
    }

    /// <summary>The address of every direct <c>call rel32</c> in <paramref name="caller"/> whose target is <paramref name="target"/>.</summary>
    public static IReadOnlyList<ulong> FindCallsTo(GoFunction caller, ReadOnlySpan<byte> code, ulong target)
    {
        var calls = new List<ulong>();
        foreach (var instruction in Decode(caller, code))
            if (instruction.IsCallNear && instruction.NearBranchTarget == target)
                calls.Add(instruction.IP);
        return calls;
    }

    /// <summary>
    /// Where to put <paramref name="f"/>'s entry probe: the first emulated
    /// instruction among its first <see cref="EntryProbeWindow"/> — in Go
    /// that is the <c>jbe</c> to morestack of the stack-check prologue
    /// (<c>cmp rsp,[r14+0x10]; jbe</c> or <c>lea r12,[rsp-N]; cmp r12,[r14+0x10]; jbe</c>)
    /// — provided nothing before it writes memory, moves RSP, branches, or
    /// writes a register of <paramref name="mustBeIntact"/> (see
    /// <see cref="GoEntryRegisters"/>), so the probe sees the entry's state.
    /// Otherwise <paramref name="f"/>'s entry.
    /// </summary>
    public static ulong ChooseEntryProbe(GoFunction f, ReadOnlySpan<byte> code, params Register[] mustBeIntact)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(mustBeIntact);
        var intact = new HashSet<Register>();
        foreach (var register in mustBeIntact)
            intact.Add(register.GetFullRegister());

        var bytes = FunctionBytes(f, code);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes), f.Entry, DecoderOptions.None);
        var factory = new InstructionInfoFactory();
        ulong end = f.Entry + (ulong)bytes.Length;
        for (int n = 0; n < EntryProbeWindow && decoder.IP < end; n++)
        {
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid)
                break;
            if (IsEmulatedAt(instruction, bytes, f.Entry))
                return instruction.IP;
            if (instruction.FlowControl != FlowControl.Next || Disturbs(factory.GetInfo(instruction), intact))
                break;
        }
        return f.Entry;
    }

    private static bool Disturbs(InstructionInfo info, HashSet<Register> intact)
    {
        foreach (var memory in info.GetUsedMemory())
            if (IsWrite(memory.Access))
                return true;
        foreach (var used in info.GetUsedRegisters())
        {
            if (!IsWrite(used.Access))
                continue;
            var full = used.Register.GetFullRegister();
            if (full == RSP || intact.Contains(full))
                return true;
        }
        return false;
    }

    private static bool IsWrite(OpAccess access) =>
        access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite;

    /// <summary>
    /// The first emulated instruction at or after <paramref name="address"/>
    /// along straight-line code — ordinary instructions and calls, which
    /// return — so that it runs exactly once each time control reaches
    /// <paramref name="address"/> (e.g. the instruction after the call to
    /// net/http.serverHandler.ServeHTTP in net/http.(*conn).serve marks the
    /// handler's end). Null when a ret, an indirect jump, another branch the
    /// kernel does not emulate, int3/ud2, the function's end or
    /// <see cref="StraightLineLimit"/> instructions come first — except that with
    /// <paramref name="orReturn"/> a ret reached first is the answer: a call in
    /// tail position (Go 1.19's initALPNRequest.ServeHTTP) has no other end.
    /// </summary>
    public static ulong? FirstEmulatableAfter(GoFunction f, ReadOnlySpan<byte> code, ulong address, bool orReturn = false)
    {
        ArgumentNullException.ThrowIfNull(f);
        var bytes = FunctionBytes(f, code);
        foreach (var instruction in StraightLine(f, bytes, address))
        {
            if (instruction.IsInvalid)
                return null;
            if (IsEmulatedAt(instruction, bytes, f.Entry))
                return instruction.IP;
            switch (instruction.FlowControl)
            {
                case FlowControl.Next:
                case FlowControl.Call:
                case FlowControl.IndirectCall:
                    continue;
                case FlowControl.Return when orReturn:
                    return instruction.IP;
                default:
                    return null;
            }
        }
        return null;
    }

    /// <summary>
    /// The first emulated instruction at or after <paramref name="address"/> that
    /// straight-line code reaches with every register of <paramref name="intact"/>
    /// as it was at <paramref name="address"/> (a call's results, right after it:
    /// Go returns them in RAX, RBX, ...). Null when a call, a branch, a write to
    /// one of them, the function's end or <see cref="StraightLineLimit"/>
    /// instructions come first.
    /// </summary>
    public static ulong? FirstEmulatableKeeping(GoFunction f, ReadOnlySpan<byte> code, ulong address, params Register[] intact)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(intact);
        var keep = new HashSet<Register>();
        foreach (var register in intact)
            keep.Add(register.GetFullRegister());
        var bytes = FunctionBytes(f, code);
        var factory = new InstructionInfoFactory();
        foreach (var instruction in StraightLine(f, bytes, address))
        {
            if (instruction.IsInvalid)
                return null;
            if (IsEmulatedAt(instruction, bytes, f.Entry))
                return instruction.IP;
            if (instruction.FlowControl != FlowControl.Next)
                return null;
            foreach (var used in factory.GetInfo(instruction).GetUsedRegisters())
                if (IsWrite(used.Access) && keep.Contains(used.Register.GetFullRegister()))
                    return null;
        }
        return null;
    }

    /// <summary>
    /// The instructions of <paramref name="f"/> (its <paramref name="bytes"/>) from
    /// <paramref name="address"/> on, in address order, at most
    /// <see cref="StraightLineLimit"/> and none past its end; none when the address
    /// is not in it.
    /// </summary>
    private static IEnumerable<Instruction> StraightLine(GoFunction f, byte[] bytes, ulong address)
    {
        ulong end = f.Entry + (ulong)bytes.Length;
        if (address < f.Entry || address >= end)
            yield break;
        int start = (int)(address - f.Entry);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes, start, bytes.Length - start), address, DecoderOptions.None);
        for (int n = 0; n < StraightLineLimit && decoder.IP < end; n++)
        {
            decoder.Decode(out var instruction);
            yield return instruction;
        }
    }

    /// <summary>
    /// Whether the kernel emulates <paramref name="i"/> when a uprobe hits it
    /// (see the type's summary for the source). Judged conservatively from
    /// the decoded form: a branch must have its plain length (no prefixes at
    /// all, though the kernel refuses only 0x66), a nop must be 90 or 66 90.
    /// A two-byte push of r8–r15 is taken to be 41 5x; the kernel refuses
    /// other REX bytes there, which this overload cannot see.
    /// </summary>
    public static bool IsEmulatedByUprobes(in Instruction i)
    {
        if (i.IsJccShort || i.IsJmpShort)
            return i.Length == 2;
        if (i.IsJccNear)
            return i.Length == 6;
        if (i.IsJmpNear || i.IsCallNear)
            return i.Length == 5;
        switch (i.Code)
        {
            case Code.Nopd:
                return i.Length == 1;
            case Code.Nopw:
                return i.Length == 2;
            case Code.Push_r64:
                bool low = i.Op0Register >= RAX && i.Op0Register <= RDI;
                return i.Length == 1 ? low : i.Length == 2 && !low;
            default:
                return false;
        }
    }

    /// <summary><see cref="IsEmulatedByUprobes"/> with the bytes at hand: also checks a push's REX byte is exactly 0x41.</summary>
    private static bool IsEmulatedAt(in Instruction i, byte[] bytes, ulong entry)
    {
        if (!IsEmulatedByUprobes(i))
            return false;
        return i.Code != Code.Push_r64 || i.Length == 1 || bytes[(int)(i.IP - entry)] == 0x41;
    }

    /// <summary>The function's bytes as an array Iced can read, at most [Entry, End).</summary>
    private static byte[] FunctionBytes(GoFunction f, ReadOnlySpan<byte> code)
    {
        ArgumentNullException.ThrowIfNull(f);
        ulong length = Math.Min((ulong)code.Length, f.Size);
        return code[..(int)length].ToArray();
    }
}
