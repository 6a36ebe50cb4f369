using Sonde.Interop.LibC;

namespace Sonde.Tests.Hosting;

/// <summary>
/// A test that boots a real systemd in a PID namespace (<see cref="SystemdNamespace"/>):
/// skipped, with the reason, without root or without systemd and util-linux's
/// unshare/nsenter. On the project's machines (root, `systemd` installed) it runs.
/// </summary>
public sealed class SystemdFactAttribute : FactAttribute
{
    public SystemdFactAttribute()
    {
        Skip = Missing();
    }

    public static string? Missing()
    {
        if (!ProcessInfo.IsRoot) return "needs root to boot systemd in a PID namespace";
        if (!File.Exists(SystemdNamespace.SystemdBinary)) return $"needs systemd ({SystemdNamespace.SystemdBinary}): apt-get install systemd";
        foreach (var tool in new[] { "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/setsid", "/usr/bin/systemctl", "/usr/bin/journalctl" })
            if (!File.Exists(tool)) return $"needs {tool}";
        return null;
    }
}
