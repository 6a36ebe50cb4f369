using System.Diagnostics;
using System.Text.Json;

namespace Sonde.Tests.Support;

/// <summary>What bpftool sees loaded in the kernel, machine-wide.</summary>
public static class Bpftool
{
    /// <summary>Ids of loaded programs whose name starts with sonde_ (any process's).</summary>
    public static HashSet<long> SondeProgramIds()
    {
        using var doc = JsonDocument.Parse(Run("-j prog show"));
        return doc.RootElement.EnumerateArray()
            .Where(p => p.TryGetProperty("name", out var n) && (n.GetString() ?? "").StartsWith("sonde_", StringComparison.Ordinal))
            .Select(p => p.GetProperty("id").GetInt64()).ToHashSet();
    }

    /// <summary>
    /// Names of the BPF programs process <paramref name="pid"/> holds (prog_id in the
    /// fdinfo of its fds); the kernel keeps 15 characters of a name.
    /// </summary>
    public static List<string> ProgramNamesOf(int pid)
    {
        var ids = new HashSet<long>();
        foreach (var fd in Directory.GetFiles($"/proc/{pid}/fdinfo"))
        {
            try
            {
                foreach (var line in File.ReadLines(fd))
                    if (line.StartsWith("prog_id:", StringComparison.Ordinal)) ids.Add(long.Parse(line["prog_id:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (IOException) { }   // an fd closed meanwhile
        }
        using var doc = JsonDocument.Parse(Run("-j prog show"));
        return doc.RootElement.EnumerateArray()
            .Where(p => ids.Contains(p.GetProperty("id").GetInt64()))
            .Select(p => p.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "").ToList();
    }

    /// <summary>Links whose program is one of <paramref name="programIds"/>.</summary>
    public static int LinksOf(IReadOnlySet<long> programIds)
    {
        using var links = JsonDocument.Parse(Run("-j link show"));
        return links.RootElement.EnumerateArray().Count(l => l.TryGetProperty("prog_id", out var id) && programIds.Contains(id.GetInt64()));
    }

    private static string Run(string args)
    {
        var psi = new ProcessStartInfo("bpftool", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string o = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"bpftool {args}: {p.StandardError.ReadToEnd()}");
        return string.IsNullOrWhiteSpace(o) ? "[]" : o;
    }
}
