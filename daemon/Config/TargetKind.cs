namespace Sonde.Config;

/// <summary>How a <see cref="TargetSelector"/> chooses its processes: the one key it sets.</summary>
public enum TargetKind
{
    /// <summary><c>exe</c>: every process whose executable path matches a glob.</summary>
    Exe,
    /// <summary><c>process</c>: every process whose name (comm, at most 15 characters) is this.</summary>
    Process,
    /// <summary><c>port</c>: the process listening on this TCP port.</summary>
    Port,
    /// <summary><c>unit</c>: the processes of this systemd unit (its cgroup).</summary>
    Unit,
    /// <summary><c>pids</c>: these process ids.</summary>
    Pids,
}
