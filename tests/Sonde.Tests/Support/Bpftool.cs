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
