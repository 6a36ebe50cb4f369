using System.Globalization;

namespace Sonde.Metrics;

/// <summary>
/// What the kernel counts for one loaded BPF program, read from
/// <c>/proc/self/fdinfo/&lt;program fd&gt;</c> (kernel/bpf/syscall.c,
/// bpf_prog_show_fdinfo: <c>prog_id</c>, <c>run_time_ns</c> and <c>run_cnt</c>
/// since Linux 5.1, <c>recursion_misses</c> since 5.12).
/// </summary>
/// <remarks>
/// The kernel counts run time and runs only while statistics are enabled:
/// machine-wide with the sysctl <c>kernel.bpf_stats_enabled=1</c>
/// (<see cref="StatsEnabled"/>), or while some process holds the file
/// descriptor <c>BPF_ENABLE_STATS</c> returns. Otherwise the two stay where
/// they were (0 for a program loaded while they were off). Counting costs
/// two clock reads per program run, which is why it is off by default.
/// </remarks>
/// <param name="ProgramId">The kernel's id of the program (what bpftool shows).</param>
/// <param name="RunTimeNs">Nanoseconds spent running the program, all CPUs.</param>
/// <param name="RunCount">Times the program ran.</param>
/// <param name="RecursionMisses">Runs skipped because the program was already running on that CPU; 0 before Linux 5.12.</param>
public readonly record struct BpfProgramStats(int ProgramId, long RunTimeNs, long RunCount, long RecursionMisses)
{
    private const string StatsSysctl = "/proc/sys/kernel/bpf_stats_enabled";

    /// <summary>Whether <c>kernel.bpf_stats_enabled</c> is 1 (false when the sysctl does not exist).</summary>
    public static bool StatsEnabled
    {
        get
        {
            try { return File.ReadAllText(StatsSysctl).Trim() == "1"; }
            catch (IOException) { return false; }
            catch (UnauthorizedAccessException) { return false; }
        }
    }

    /// <summary>Reads the statistics of the BPF program open as <paramref name="programFd"/> in this process.</summary>
    /// <exception cref="IOException">No such file descriptor.</exception>
    /// <exception cref="InvalidDataException">The descriptor is not a BPF program, or the kernel is older than 5.1.</exception>
    public static BpfProgramStats Read(int programFd)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(programFd);
        string text;
        try { text = File.ReadAllText($"/proc/self/fdinfo/{programFd.ToString(CultureInfo.InvariantCulture)}"); }
        catch (FileNotFoundException e) { throw new IOException($"fd {programFd} is not open in this process", e); }
        return Parse(text, $"fd {programFd}");
    }

    /// <summary>Parses the text of a BPF program's fdinfo.</summary>
    internal static BpfProgramStats Parse(string fdinfo, string what)
    {
        long? id = null, runTime = null, runCount = null;
        long misses = 0;
        foreach (var line in fdinfo.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            var key = line.AsSpan(0, colon);
            var value = line.AsSpan(colon + 1).Trim();
            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long number)) continue;
            switch (key)
            {
                case "prog_id": id = number; break;
                case "run_time_ns": runTime = number; break;
                case "run_cnt": runCount = number; break;
                case "recursion_misses": misses = number; break;
            }
        }
        if (id is null) throw new InvalidDataException($"{what} is not a BPF program (its fdinfo has no prog_id)");
        if (runTime is null || runCount is null) throw new InvalidDataException($"{what}: the kernel reports no run_time_ns/run_cnt (Linux 5.1 or newer needed)");
        return new BpfProgramStats((int)id.Value, runTime.Value, runCount.Value, misses);
    }
}
