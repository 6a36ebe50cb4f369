using Sonde.Interop.LibC;
using Sonde.Tracing;

namespace Sonde.Discovery;

/// <summary>Finds target processes in /proc: by pid, or every process of an executable.</summary>
public static class ProcessTable
{
    /// <summary>The process with this pid, or a <see cref="TraceException"/> saying why not.</summary>
    public static TargetProcess ByPid(int pid)
    {
        if (pid <= 0 || !Directory.Exists($"/proc/{pid}"))
            throw new TraceException($"no such process: pid {pid}");
        string? exe;
        try { exe = new FileInfo($"/proc/{pid}/exe").LinkTarget; }
        catch (UnauthorizedAccessException) { throw new TraceException($"cannot read /proc/{pid}/exe: permission denied (Sonde needs root, or CAP_SYS_PTRACE for other users' processes)"); }
        catch (IOException e) { throw new TraceException($"cannot read /proc/{pid}/exe: {e.Message}"); }
        if (string.IsNullOrEmpty(exe))
            throw new TraceException($"pid {pid} has no executable (a kernel thread?)");
        return new TargetProcess(pid, exe);
    }

    /// <summary>Every running process whose executable is the file at <paramref name="exePath"/>.</summary>
    public static IReadOnlyList<TargetProcess> ByExecutable(string exePath)
    {
        if (!FileIdentity.TryOf(exePath, out var want))
            throw new TraceException($"no such executable: {exePath} (or a directory on its path can't be searched: " +
                "Sonde needs root, or CAP_DAC_READ_SEARCH)");
        var found = new List<TargetProcess>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (!int.TryParse(name, out int pid)) continue;
            if (FileIdentity.TryOf($"/proc/{pid}/exe", out var id) && id == want)
                found.Add(new TargetProcess(pid, exePath));
        }
        found.Sort((a, b) => a.Pid.CompareTo(b.Pid));
        return found;
    }
}
