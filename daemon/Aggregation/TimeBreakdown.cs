using Sonde.Tracing;

namespace Sonde.Aggregation;

/// <summary>
/// Where the time of a set of requests went: nanoseconds per
/// <see cref="BreakdownCategories"/> category summed over the requests that
/// carried a breakdown, and their syscalls by name.
/// </summary>
public sealed class TimeBreakdown
{
    private readonly ulong[] _ns = new ulong[BreakdownCategories.Count];
    private readonly Dictionary<uint, (long Count, ulong Ns, long Requests)> _syscalls = new();

    /// <summary>Requests that carried a breakdown.</summary>
    public long Requests { get; private set; }

    public ReadOnlySpan<ulong> TotalNs => _ns;

    /// <summary>Mean nanoseconds per request in <paramref name="category"/>.</summary>
    public double MeanNs(int category) => Requests == 0 ? 0 : (double)_ns[category] / Requests;

    /// <summary>Syscalls by total time, largest first: (name, calls, total ns, requests that made any).</summary>
    public IReadOnlyList<(string Name, long Count, ulong Ns, long Requests)> Syscalls() =>
        _syscalls.OrderByDescending(s => s.Value.Ns).ThenBy(s => s.Key)
            .Select(s => (SyscallNames.Name(s.Key), s.Value.Count, s.Value.Ns, s.Value.Requests)).ToList();

    /// <summary>Adds one request; no allocation unless it brings a syscall this set hasn't seen.</summary>
    public void Add(ReadOnlySpan<ulong> breakdownNs, ReadOnlySpan<SyscallStat> syscalls)
    {
        if (breakdownNs.IsEmpty) return;
        Requests++;
        for (int i = 0; i < _ns.Length && i < breakdownNs.Length; i++) _ns[i] += breakdownNs[i];
        foreach (var s in syscalls)
        {
            _syscalls.TryGetValue(s.Nr, out var t);
            _syscalls[s.Nr] = (t.Count + s.Count, t.Ns + s.Ns, t.Requests + 1);
        }
    }
}
