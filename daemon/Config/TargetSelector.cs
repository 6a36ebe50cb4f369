namespace Sonde.Config;

/// <summary>
/// One entry of <c>targets</c>: which processes to trace (exactly one of
/// <see cref="Exe"/>, <see cref="Process"/>, <see cref="Port"/>,
/// <see cref="Unit"/>, <see cref="Pids"/>, as <see cref="Kind"/> says) and the
/// <c>service</c> label their metrics carry. Resolving it to processes is the
/// pipeline's job; the values here are validated.
/// </summary>
public sealed record TargetSelector
{
    public required TargetKind Kind { get; init; }

    /// <summary>Absolute path glob (<c>*</c>, <c>?</c>, <c>[...]</c> within a path segment, <c>**</c> across segments); see <see cref="PathGlob"/>.</summary>
    public string? Exe { get; init; }

    /// <summary>Process name as the kernel keeps it (comm): at most 15 characters.</summary>
    public string? Process { get; init; }

    /// <summary>Listening TCP port, 1..65535.</summary>
    public int? Port { get; init; }

    /// <summary>Full systemd unit name (<c>shop.service</c>; a name given without a suffix gets <c>.service</c>).</summary>
    public string? Unit { get; init; }

    public IReadOnlyList<int>? Pids { get; init; }

    /// <summary>The <c>service</c> key as written, or null.</summary>
    public string? Service { get; init; }

    /// <summary>
    /// The service label: <see cref="Service"/> when given, else the exe
    /// glob's basename (when it has no wildcard), the unit name without
    /// <c>.service</c>, or the process name. Null for <c>port</c> and
    /// <c>pids</c> targets (and wildcard basenames): the pipeline then uses
    /// each process's executable basename.
    /// </summary>
    public string? ServiceName => Service ?? Kind switch
    {
        TargetKind.Exe when System.IO.Path.GetFileName(Exe) is { Length: > 0 } b && !PathGlob.HasWildcard(b) => b,
        TargetKind.Unit when Unit!.EndsWith(".service", StringComparison.Ordinal) => Unit[..^".service".Length],
        TargetKind.Unit => Unit,
        TargetKind.Process => Process,
        _ => null,
    };

    /// <summary>"exe /usr/bin/shop", "port 8080", "pids 1, 2": for logs and status lines.</summary>
    public override string ToString() => Kind switch
    {
        TargetKind.Exe => $"exe {Exe}",
        TargetKind.Process => $"process {Process}",
        TargetKind.Port => $"port {Port}",
        TargetKind.Unit => $"unit {Unit}",
        _ => $"pids {string.Join(", ", Pids ?? [])}",
    };

    public bool Equals(TargetSelector? other) => other is not null && Kind == other.Kind && Exe == other.Exe
        && Process == other.Process && Port == other.Port && Unit == other.Unit && Service == other.Service
        && (Pids ?? []).SequenceEqual(other.Pids ?? []);

    public override int GetHashCode() => HashCode.Combine(Kind, Exe, Process, Port, Unit, Service, Pids?.Count);
}
