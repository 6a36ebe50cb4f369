namespace Sonde.Aggregation;

/// <summary>
/// One bar of a latency histogram: the number of durations in
/// [<see cref="LowerNs"/>, <see cref="UpperNs"/>) ns. Edges are powers of two
/// (the zero bucket is [0, 1)); the top bucket's upper edge saturates at
/// <see cref="ulong.MaxValue"/>.
/// </summary>
public readonly record struct Log2Bucket(ulong LowerNs, ulong UpperNs, long Count);
