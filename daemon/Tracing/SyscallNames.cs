using System.Collections.Frozen;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace Sonde.Tracing;

/// <summary>
/// x86-64 syscall numbers to names, from the kernel's uapi
/// asm/unistd_64.h (generated at build time into bpf/syscalls.tsv).
/// </summary>
public static class SyscallNames
{
    private static readonly FrozenDictionary<uint, byte[]> s_utf8 = Load();

    /// <summary>The name as UTF-8 ("sys_NNN" for a number the table lacks).</summary>
    public static byte[] Utf8(uint nr) => s_utf8.TryGetValue(nr, out var n) ? n : Encoding.ASCII.GetBytes($"sys_{nr}");

    public static string Name(uint nr) => Encoding.ASCII.GetString(Utf8(nr));

    private static FrozenDictionary<uint, byte[]> Load()
    {
        var d = new Dictionary<uint, byte[]>();
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("bpf/syscalls.tsv");
        if (s is null) return d.ToFrozenDictionary();
        using var r = new StreamReader(s);
        while (r.ReadLine() is { } line)
        {
            var f = line.Split('\t');
            if (f.Length == 2 && uint.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint nr))
                d[nr] = Encoding.ASCII.GetBytes(f[1]);
        }
        return d.ToFrozenDictionary();
    }
}
