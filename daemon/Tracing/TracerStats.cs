namespace Sonde.Tracing;

/// <summary>Counters kept by the BPF programs (bpf/http.h enum sonde_stat), summed over CPUs.</summary>
public readonly record struct TracerStats(
    ulong StartHits, ulong EndHits, ulong RouteHits, ulong Events, ulong Drops, ulong EndUnmatched, ulong StartNoConfig)
{
    /// <summary>Go scheduler probe hits (breakdown), for all goroutines.</summary>
    public ulong RuntimeHits { get; init; }
    /// <summary>Syscalls not kept because a request made more than 16 distinct ones.</summary>
    public ulong SyscallsLost { get; init; }
    /// <summary>Network waits whose peer was not kept because a request waited on more than <see cref="HttpEvent.MaxPeers"/> distinct ones (their time stays in net_io).</summary>
    public ulong PeersLost { get; init; }
    /// <summary>Hits of the net/http client's probes (a round trip's start, dial, connection and end), on any goroutine.</summary>
    public ulong ClientHits { get; init; }
    /// <summary>Outgoing calls not kept because a request made more than <see cref="HttpEvent.MaxCalls"/>.</summary>
    public ulong CallsLost { get; init; }
    /// <summary>Dials for a call that ended after its request did, or were not seen whole: their phases are not in the call.</summary>
    public ulong DialsUnmatched { get; init; }
    /// <summary>grpc-go WriteStatus probe hits.</summary>
    public ulong GrpcStatusHits { get; init; }
    /// <summary>Requests not recorded because the in-flight map was full at their start.</summary>
    public ulong InflightFull { get; init; }
    /// <summary>Requests whose end was never reached before their goroutine began another (a handler that panicked, for one).</summary>
    public ulong Abandoned { get; init; }
    /// <summary>Requests in flight when their process exited (their in-flight entries removed by user space).</summary>
    public ulong ExitedInFlight { get; init; }
    /// <summary>Of <see cref="RuntimeHits"/>, those that moved a traced request's state; the rest were paid for goroutines that serve none.</summary>
    public ulong RuntimeRequestHits { get; init; }

    /// <summary>Go scheduler probe hits per captured request: all of them, and those on request goroutines.</summary>
    public (double All, double OnRequests) SchedulerHitsPerRequest =>
        Events == 0 ? (0, 0) : ((double)RuntimeHits / Events, (double)RuntimeRequestHits / Events);

    /// <summary>Breakdown: threads or processes not followed because the threads or stws map was full.</summary>
    public ulong StateFull { get; init; }

    /// <summary>
    /// Ends without a start that are not already counted as <see cref="InflightFull"/>:
    /// a request the full map could not hold ends unmatched too (one end per request).
    /// </summary>
    public ulong UnmatchedEnds => EndUnmatched - Math.Min(EndUnmatched, InflightFull);

    /// <summary>Requests not recorded, for every reason (parts of requests, such as syscalls past the cap, excluded).</summary>
    public ulong RequestsLost => Drops + InflightFull + UnmatchedEnds + Abandoned + ExitedInFlight + StartNoConfig;

    /// <summary>"3 with the ring buffer full, 1 unmatched end (…)": the losses that occurred, or "none".</summary>
    public string LostSummary
    {
        get
        {
            var parts = new List<string>();
            if (Drops > 0) parts.Add($"{Drops} with the ring buffer full");
            if (InflightFull > 0) parts.Add($"{InflightFull} with the in-flight map full");
            if (UnmatchedEnds > 0) parts.Add($"{UnmatchedEnds} unmatched {(UnmatchedEnds == 1 ? "end" : "ends")} (begun before attaching)");
            if (Abandoned > 0) parts.Add($"{Abandoned} never ended (their goroutine went on to another)");
            if (ExitedInFlight > 0) parts.Add($"{ExitedInFlight} in flight when their process exited");
            if (StartNoConfig > 0) parts.Add($"{StartNoConfig} started before their binary's offsets were stored");
            if (SyscallsLost > 0) parts.Add($"{SyscallsLost} syscalls beyond the 16 kept per request");
            if (PeersLost > 0) parts.Add($"{PeersLost} network waits on peers beyond the {HttpEvent.MaxPeers} kept per request");
            if (CallsLost > 0) parts.Add($"{CallsLost} outgoing calls beyond the {HttpEvent.MaxCalls} kept per request");
            if (DialsUnmatched > 0) parts.Add($"{DialsUnmatched} calls' dial phases (their dial outlived their request)");
            if (StateFull > 0) parts.Add($"{StateFull} threads not followed by the breakdown (its maps full)");
            return parts.Count == 0 ? "none" : string.Join(", ", parts);
        }
    }

    /// <summary>Uprobe hits per captured request.</summary>
    public double HitsPerRequest => Events == 0 ? 0 : (double)(StartHits + EndHits + RouteHits + GrpcStatusHits + ClientHits) / Events;
}
