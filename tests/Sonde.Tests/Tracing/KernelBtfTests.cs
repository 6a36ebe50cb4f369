using System.Diagnostics;
using System.Text.RegularExpressions;
using Sonde.Interop.Libbpf;

namespace Sonde.Tests.Tracing;

/// <summary>
/// KernelBtf reads the running kernel's BTF through libbpf; bpftool's dump of the
/// same file is the other reader it is held against.
/// </summary>
public sealed partial class KernelBtfTests
{
    [Theory]
    [InlineData("rq")]
    [InlineData("sched_entity")]
    [InlineData("task_struct")]
    public void Every_member_bpftool_lists_is_found_and_no_other(string structName)
    {
        var members = BpftoolMembers(structName);
        Assert.NotEmpty(members);
        using var btf = KernelBtf.Load();
        Assert.True(btf.HasStruct(structName));
        foreach (var m in members) Assert.True(btf.HasMember(structName, m), $"{structName}.{m} is in bpftool's dump");
        Assert.False(btf.HasMember(structName, "sonde_no_such_member"));
        Assert.False(btf.HasMember("sonde_no_such_struct", members[0]));
        Assert.False(btf.HasStruct("sonde_no_such_struct"));
    }

    /// <summary>The steal clock's source is what the kernel's BTF says, both ways.</summary>
    [Fact]
    public void The_attach_line_names_the_steal_clock_the_kernel_has()
    {
        bool has = BpftoolMembers("rq").Contains("prev_steal_time_rq") && BpftoolMembers("sched_entity").Contains("cfs_rq");
        Assert.Equal(has, Sonde.Tracing.HttpTracer.StealClock.StartsWith("stolen time from", StringComparison.Ordinal));
    }

    private static List<string> BpftoolMembers(string structName)
    {
        var psi = new ProcessStartInfo("bpftool", "btf dump file /sys/kernel/btf/vmlinux format raw") { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var members = new List<string>();
        bool inside = false;
        while (p.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith('['))
            {
                if (inside) break;
                inside = line.Contains($"STRUCT '{structName}' ", StringComparison.Ordinal);
                continue;
            }
            if (inside && Member().Match(line) is { Success: true } m && m.Groups[1].Value != "(anon)") members.Add(m.Groups[1].Value);
        }
        p.Kill();
        p.WaitForExit();
        return members;
    }

    [GeneratedRegex(@"^\s+'([^']+)' type_id=")]
    private static partial Regex Member();
}
