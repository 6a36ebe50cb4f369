using System.Buffers;
using System.Text;
using Sonde.Tracing;

namespace Sonde.Aggregation;

/// <summary>
/// Requests grouped by route: one <see cref="RouteRow"/> per (method, route
/// template), or (method, raw path) when the template is unknown, or gRPC
/// method, up to
/// <see cref="MaxRows"/> rows; later keys fold into <see cref="Other"/> so that
/// a service whose paths carry ids cannot grow the table without bound.
/// </summary>
/// <remarks>
/// <see cref="Add"/> runs once per traced request and does not allocate when
/// the request's row exists (or its key was already folded): the key is decoded
/// from UTF-8 into a stack buffer and looked up through the dictionary's
/// span-keyed alternate lookup. Folded keys are remembered as 64-bit hashes, at
/// most <see cref="MaxTrackedFoldedKeys"/> of them, to count distinct folded
/// keys. Not thread-safe: one table belongs to the ring-buffer consumer thread.
/// </remarks>
public sealed class RouteTable
{
    /// <summary>Default row cap (the <c>other</c> and <c>all</c> rows not included).</summary>
    public const int DefaultMaxRows = 200;

    /// <summary>Distinct folded keys counted exactly; past this, <see cref="FoldedKeysIsLowerBound"/>.</summary>
    public const int MaxTrackedFoldedKeys = 1 << 16;

    /// <summary>Keys up to this many UTF-16 chars are built on the stack; longer ones in a pooled array.</summary>
    private const int StackKeyChars = 512;

    // A key is [kind][method length][method][route or path]: the two leading
    // chars keep "GET" + "/a b" apart from "GET /a" + "b", and a template apart
    // from a raw path that happens to spell the same.
    private const char TemplateMark = 'T';
    private const char PathMark = 'P';
    private const char RpcMark = 'G';

    private readonly Dictionary<string, RouteRow> _rows = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RouteRow>.AlternateLookup<ReadOnlySpan<char>> _rowsBySpan;
    private readonly HashSet<ulong> _foldedKeyHashes = [];

    public RouteTable(int maxRows = DefaultMaxRows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRows);
        MaxRows = maxRows;
        _rowsBySpan = _rows.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Most distinct route rows kept; later keys fold into <see cref="Other"/>.</summary>
    public int MaxRows { get; }

    /// <summary>The route rows, unordered (never <see cref="Other"/> or <see cref="All"/>).</summary>
    public IReadOnlyCollection<RouteRow> Rows => _rows.Values;

    /// <summary>Requests whose key arrived after the table was full.</summary>
    public RouteRow Other { get; } = new("", "other", RouteKind.Other);

    /// <summary>Every request the table saw, whatever its row.</summary>
    public RouteRow All { get; } = new("", "all", RouteKind.All);

    /// <summary>Distinct keys folded into <see cref="Other"/>.</summary>
    public int FoldedKeys => _foldedKeyHashes.Count;

    /// <summary>True when more distinct keys were folded than could be counted.</summary>
    public bool FoldedKeysIsLowerBound { get; private set; }

    /// <summary>Counts one request in its row. Allocation-free for a known key.</summary>
    public void Add(in RequestView request)
    {
        var hasRoute = !request.Route.IsEmpty;
        var target = hasRoute ? request.Route : request.Path;
        // UTF-8 never decodes to more UTF-16 chars than it has bytes.
        var maxChars = 2 + request.Method.Length + target.Length;
        char[]? pooled = null;
        var buffer = maxChars <= StackKeyChars
            ? stackalloc char[StackKeyChars]
            : (pooled = ArrayPool<char>.Shared.Rent(maxChars));
        try
        {
            var methodChars = Encoding.UTF8.GetChars(request.Method, buffer[2..]);
            var targetChars = Encoding.UTF8.GetChars(target, buffer[(2 + methodChars)..]);
            buffer[0] = request.IsGrpc ? RpcMark : hasRoute ? TemplateMark : PathMark;
            buffer[1] = (char)methodChars;
            var key = buffer[..(2 + methodChars + targetChars)];

            var row = FindOrCreate(key, methodChars);
            row.Add(request);
            All.Add(request);
        }
        finally
        {
            if (pooled is not null) ArrayPool<char>.Shared.Return(pooled);
        }
    }

    private RouteRow FindOrCreate(ReadOnlySpan<char> key, int methodChars)
    {
        if (_rowsBySpan.TryGetValue(key, out var row)) return row;
        if (_rows.Count < MaxRows)
        {
            var kind = key[0] switch { TemplateMark => RouteKind.Template, RpcMark => RouteKind.Rpc, _ => RouteKind.Path };
            row = new RouteRow(key.Slice(2, methodChars).ToString(), key[(2 + methodChars)..].ToString(), kind);
            _rows.Add(key.ToString(), row);
            return row;
        }
        var hash = Fnv1a64(key);
        if (!_foldedKeyHashes.Contains(hash))
        {
            if (_foldedKeyHashes.Count < MaxTrackedFoldedKeys) _foldedKeyHashes.Add(hash);
            else FoldedKeysIsLowerBound = true;
        }
        return Other;
    }

    /// <summary>FNV-1a over the UTF-16 code units; 64 bits make collisions among 65,536 keys negligible.</summary>
    private static ulong Fnv1a64(ReadOnlySpan<char> key)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in key)
        {
            hash = (hash ^ (byte)c) * 1099511628211UL;
            hash = (hash ^ (byte)(c >> 8)) * 1099511628211UL;
        }
        return hash;
    }
}
