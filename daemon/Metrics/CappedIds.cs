namespace Sonde.Metrics;

/// <summary>What a key (UTF-8 bytes) is labelled with, made once when it gets its id.</summary>
internal delegate TLabel KeyLabel<TLabel>(ReadOnlySpan<byte> key);

/// <summary>
/// Small ids for byte-string keys (a service's routes, its calls' hosts), in the
/// order first seen and capped: once there are as many as the cap, a key not seen
/// yet is <see cref="ServiceRoutes.Other"/>. Looked up by span, so a known key
/// allocates nothing. Not thread-safe.
/// </summary>
internal sealed class CappedIds<TLabel>
{
    private readonly Dictionary<byte[], int> _ids = new(Utf8BytesComparer.Instance);
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _bySpan;
    private readonly List<TLabel> _labels = [];
    private readonly KeyLabel<TLabel> _label;

    public CappedIds(KeyLabel<TLabel> label)
    {
        _label = label;
        _bySpan = _ids.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count => _labels.Count;

    /// <summary>The id of <paramref name="key"/>, adding it while fewer than <paramref name="max"/> exist; else <see cref="ServiceRoutes.Other"/>.</summary>
    public int Resolve(ReadOnlySpan<byte> key, int max)
    {
        if (_bySpan.TryGetValue(key, out int id)) return id;
        if (_labels.Count >= max) return ServiceRoutes.Other;
        id = _labels.Count;
        _ids.Add(key.ToArray(), id);
        _labels.Add(_label(key));
        return id;
    }

    /// <summary>The label of an id <see cref="Resolve"/> gave (not <see cref="ServiceRoutes.Other"/>).</summary>
    public TLabel this[int id] => _labels[id];
}
