using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>
/// The structs shared with BPF (bpf/http.h) have the same layout on both
/// sides: checked against the BTF of the compiled object, not by eye.
/// </summary>
public sealed class SharedLayoutTests
{
    [Theory]
    [InlineData("sonde_http_event", typeof(HttpEvent))]
    [InlineData("sonde_go_config", typeof(GoTargetConfig))]
    [InlineData("sonde_inflight_head", typeof(InflightHead))]
    [InlineData("inflight_key", typeof(InflightKey))]
    // Its fixed start: the syscalls, peer waits and calls that follow are counted, and read as SyscallStat, PeerWait and HttpCall.
    [InlineData("sonde_http_breakdown", typeof(HttpBreakdownHead), 3)]
    [InlineData("sonde_syscall_stat", typeof(SyscallStat))]
    [InlineData("sonde_peer_wait", typeof(PeerWait))]
    [InlineData("sonde_peer", typeof(Peer))]
    [InlineData("sonde_call", typeof(HttpCall))]
    public void Csharp_struct_matches_BTF(string cStruct, Type csType, int lastMembersNotInCsharp = 0)
    {
        var btf = BtfMembers(cStruct);
        var fields = csType.GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
        Assert.Equal(btf.Members.Count - lastMembersNotInCsharp, fields.Length);
        Assert.Equal(lastMembersNotInCsharp == 0 ? btf.Size : btf.Members[fields.Length].Offset, Marshal.SizeOf(csType));
        for (int i = 0; i < fields.Length; i++)
        {
            int offset = (int)Marshal.OffsetOf(csType, fields[i].Name);
            Assert.True(btf.Members[i].Offset == offset,
                $"{cStruct}.{btf.Members[i].Name} is at {btf.Members[i].Offset} in BPF, {csType.Name}.{fields[i].Name} at {offset}");
        }
    }

    /// <summary>The C# mirrors of bpf/http.h's enums: the same names (SONDE_STAT_START_HITS is StartHits) with the same values.</summary>
    [Theory]
    [InlineData("sonde_stat", "SONDE_STAT_", typeof(HttpTracer.Stat))]
    [InlineData("sonde_peer_kind", "SONDE_PEER_", typeof(PeerKind))]
    public void Csharp_enum_matches_BTF(string cEnum, string prefix, Type csType)
    {
        var (_, values) = BtfType("ENUM", cEnum);
        var btf = values.Select(l => Regex.Match(l, @"'(\w+)' val=(\d+)"))
            .Select(m => (Name: m.Groups[1].Value[prefix.Length..].Replace("_", ""), Value: long.Parse(m.Groups[2].Value)))
            .Where(e => e.Name != "MAX");
        var cs = Enum.GetValues(csType).Cast<object>().Select(v => (Name: Enum.GetName(csType, v)!.ToUpperInvariant(), Value: Convert.ToInt64(v)));
        Assert.Equal(btf, cs);
    }

    /// <summary>A type of the compiled object's BTF (bpftool's dump): its line, and the lines of its members or values.</summary>
    private static (string Head, List<string> Members) BtfType(string kind, string name)
    {
        string obj = Path.Combine(Repo.Root, "out", "bpf", "http.bpf.o");
        var psi = new ProcessStartInfo("bpftool", $"btf dump file {obj}") { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var lines = p.StandardOutput.ReadToEnd().Split('\n');
        p.WaitForExit();
        int at = Array.FindIndex(lines, l => l.Contains($"{kind} '{name}'"));
        Assert.True(at >= 0, $"{name} not in {obj}'s BTF");
        int vlen = int.Parse(Regex.Match(lines[at], @"vlen=(\d+)").Groups[1].Value);
        return (lines[at], lines.Skip(at + 1).Take(vlen).ToList());
    }

    private static (int Size, List<(string Name, int Offset)> Members) BtfMembers(string name)
    {
        var (head, lines) = BtfType("STRUCT", name);
        int size = int.Parse(Regex.Match(head, @"size=(\d+)").Groups[1].Value);
        var members = lines.Select(l => Regex.Match(l, @"'(\w+)' type_id=\d+ bits_offset=(\d+)"))
            .Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value) / 8)).ToList();
        return (size, members);
    }
}
