using Sonde.GoBinary;
using Sonde.RingBuffer;
using Sonde.Tests.Support;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>The tracer in-process: drops when the ring is full, and an allocation-free read path.</summary>
[Collection(KernelCollection.Name)]
public sealed class HttpTracerTests
{
    private sealed class CountingSink : IRequestSink
    {
        public long Count;
        public long StatusSum;
        public void OnRequest(in RequestView request) { Count++; StatusSum += request.Status; }
    }

    /// <summary>A server's probe plan and offsets, as sonde trace makes them (breakdown off).</summary>
    private static (ProbePlan Plan, GoTargetConfig Config) PlanFor(GoServer srv)
    {
        var exe = GoExecutable.Open(srv.Binary);
        var plan = ProbePlan.For(exe, EndProbeMode.Auto);
        return (plan, StructOffsets.Resolve(exe, plan.Routers).Config);
    }

    private static HttpTracer AttachTo(GoServer srv, uint ringBytes, bool? uprobeMulti = null)
    {
        var (plan, config) = PlanFor(srv);
        var tracer = new HttpTracer(ringBytes, uprobeMulti: uprobeMulti);
        tracer.Attach(plan, config, srv.Binary, [srv.Pid], out _);
        return tracer;
    }

    /// <summary>
    /// Sends <paramref name="n"/> requests answered 200 and <paramref name="otherStatus"/>
    /// in turn, and checks the tracer delivers each, with its status.
    /// </summary>
    private static async Task SendAndCount(GoServer srv, HttpTracer tracer, int n, int otherStatus)
    {
        await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, n).Select(i => ("GET", $"/status/{(i % 2 == 0 ? 200 : otherStatus)}")).ToList(), 2);
        var sink = new CountingSink();
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await tracer.RunAsync(sink, stop.Token);
        Assert.Equal(n, sink.Count);
        Assert.Equal(n / 2 * 200L + n / 2 * (long)otherStatus, sink.StatusSum);
    }

    /// <summary>
    /// Multi-uprobe links (one per file or process; this kernel has them) and single perf-event
    /// uprobes (older kernels' fallback) trace the same requests, with the same probes.
    /// </summary>
    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Both_kinds_of_uprobe_link_trace_every_request(bool multi)
    {
        if (multi) Assert.True(HttpTracer.KernelHasUprobeMulti, "this kernel (Linux 6.6+) has multi-uprobe links");
        using var srv = GoServer.Start("nethttp");
        var plan = ProbePlan.For(GoExecutable.Open(srv.Binary), EndProbeMode.Auto);
        using var tracer = AttachTo(srv, 1 << 20, multi);
        Assert.Equal(multi, tracer.UsesUprobeMulti);
        Assert.Equal(plan.Sites.Count, tracer.AttachedProbes);
        await SendAndCount(srv, tracer, 40, 404);
    }

    /// <summary>
    /// The `configs` slots are a pool, not a counter: a daemon that sees
    /// thousands of deploys reuses the slot of each binary it released, and a
    /// binary attached with a reused slot is traced right.
    /// </summary>
    [RootFact]
    public async Task Config_slots_are_reused_once_released()
    {
        using var srv = GoServer.Start("nethttp");
        var (plan, config) = PlanFor(srv);
        using var tracer = new HttpTracer(1 << 20, maxBinaries: 40);
        var slots = Enumerable.Range(0, 40).Select(_ => tracer.RegisterBinary(config)).ToList();
        Assert.Equal(40, slots.Distinct().Count());
        Assert.False(tracer.HasFreeSlot);
        var full = Assert.Throws<TraceException>(() => tracer.RegisterBinary(config));
        Assert.Equal("too_many_binaries", full.Reason);

        tracer.ReleaseBinary(slots[17]);
        int reused = tracer.RegisterBinary(config);
        Assert.Equal(slots[17], reused);
        tracer.Attach(plan, reused, srv.Binary, [srv.Pid]);
        await SendAndCount(srv, tracer, 50, 503);
    }

    /// <summary>
    /// A request already in its handler when the probes attach ends without a start:
    /// not recorded, but counted, and exported as sonde_requests_lost_total{reason="unmatched_end"}.
    /// </summary>
    [RootFact]
    public async Task A_request_begun_before_attaching_is_counted_as_lost()
    {
        using var srv = GoServer.Start("nethttp");
        using var client = new HttpClient { BaseAddress = new Uri(srv.BaseUrl) };
        var slow = client.GetAsync("/sleep?ms=1500");
        await Task.Delay(300);   // the request is in its handler
        using var tracer = AttachTo(srv, 1 << 16);
        await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, 10).Select(i => ("GET", $"/users/{i}")).ToList(), 1);
        (await slow).EnsureSuccessStatusCode();
        var stats = tracer.ReadStats();
        Assert.Equal(10UL, stats.StartHits);
        Assert.Equal(10UL, stats.Events);
        Assert.Equal(1UL, stats.EndUnmatched);
        Assert.Equal("1 unmatched end (begun before attaching)", stats.LostSummary);

        var registry = new Sonde.Metrics.MetricsRegistry();
        new Sonde.Metrics.SelfMetrics(registry).SetTracerStats(stats);
        var text = System.Text.Encoding.UTF8.GetString(Sonde.Metrics.MetricsExposition.ToBytes(registry.Collect(), Sonde.Metrics.ExpositionFormat.PrometheusText));
        Assert.Contains("sonde_requests_lost_total{reason=\"unmatched_end\"} 1\n", text);
        Assert.Contains("sonde_requests_lost_total{reason=\"ring_full\"} 0\n", text);
    }

    /// <summary>
    /// The in-flight map is a plain hash, not an LRU: when it is full, a starting
    /// request is not recorded and counted (inflight_full), and no request in flight
    /// is pushed out. Four slots, ten requests in their handlers at once: four
    /// recorded, six counted, and once they are done the slots serve again.
    /// </summary>
    [RootFact]
    public async Task A_full_in_flight_map_counts_each_request_it_could_not_hold()
    {
        using var srv = GoServer.Start("nethttp");
        var (plan, config) = PlanFor(srv);
        using var tracer = new HttpTracer(1 << 20, maxInflight: 4);
        tracer.Attach(plan, config, srv.Binary, [srv.Pid], out _);
        using var client = new HttpClient { BaseAddress = new Uri(srv.BaseUrl) };
        var slow = Enumerable.Range(0, 10).Select(_ => client.GetAsync("/sleep?ms=800")).ToList();
        foreach (var r in await Task.WhenAll(slow)) r.EnsureSuccessStatusCode();
        var stats = tracer.ReadStats();
        Assert.Equal((10UL, 4UL, 6UL), (stats.StartHits, stats.Events, stats.InflightFull));
        // Their ends find nothing either; they are not counted twice.
        Assert.Equal((6UL, 0UL), (stats.EndUnmatched, stats.UnmatchedEnds));
        Assert.Equal(0, tracer.MapEntries("inflight"));

        await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, 10).Select(i => ("GET", $"/users/{i}")).ToList(), 2);
        stats = tracer.ReadStats();
        Assert.Equal((20UL, 14UL, 6UL), (stats.StartHits, stats.Events, stats.InflightFull));
        Assert.Equal("6 with the in-flight map full", stats.LostSummary);
        var registry = new Sonde.Metrics.MetricsRegistry();
        new Sonde.Metrics.SelfMetrics(registry).SetTracerStats(stats);
        var text = System.Text.Encoding.UTF8.GetString(Sonde.Metrics.MetricsExposition.ToBytes(registry.Collect(), Sonde.Metrics.ExpositionFormat.PrometheusText));
        Assert.Contains("sonde_requests_lost_total{reason=\"inflight_full\"} 6\n", text);
    }

    /// <summary>
    /// A process killed while serving leaves its request in flight: forgetting the
    /// process removes it and counts it (process_exit), so the map does not fill
    /// up with the requests of dead processes; another process's entries stay.
    /// </summary>
    [RootFact]
    public async Task What_an_exited_process_left_in_flight_is_removed_and_counted()
    {
        using var srv = GoServer.Start("nethttp");
        using var other = GoServer.Start("nethttp-other", binaryPath: srv.Binary);
        var (plan, config) = PlanFor(srv);
        using var tracer = new HttpTracer(1 << 20);
        int slot = tracer.RegisterBinary(config);
        tracer.Attach(plan, slot, srv.Binary, [srv.Pid]);
        tracer.Attach(plan, slot, srv.Binary, [other.Pid]);
        using var client = new HttpClient { BaseAddress = new Uri(srv.BaseUrl) };
        using var otherClient = new HttpClient { BaseAddress = new Uri(other.BaseUrl) };
        var dying = client.GetAsync("/sleep?ms=10000");
        var living = otherClient.GetAsync("/sleep?ms=1500");
        for (int i = 0; i < 100 && tracer.MapEntries("inflight") < 2; i++) await Task.Delay(20);
        Assert.Equal(2, tracer.MapEntries("inflight"));
        srv.Kill();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => dying);
        Assert.Equal(1, tracer.ForgetProcess(srv.Pid, Sonde.Capture.MonotonicClock.NowNs()));
        Assert.Equal(1, tracer.MapEntries("inflight"));
        (await living).EnsureSuccessStatusCode();
        var stats = tracer.ReadStats();
        Assert.Equal((1UL, 1UL), (stats.ExitedInFlight, stats.Events));
        Assert.Equal("1 in flight when their process exited", stats.LostSummary);
        Assert.Equal(0, tracer.MapEntries("inflight"));
    }

    /// <summary>
    /// A handler that panics never reaches the end probe. Its request is counted
    /// once: as abandoned when its goroutine's g starts another request (Go reuses
    /// a dead goroutine's g for the next one), or, if none did, when its process
    /// exits and is forgotten. Either way exactly once, and never recorded.
    /// </summary>
    [RootFact]
    public async Task A_request_whose_handler_panicked_is_counted_once()
    {
        using var srv = GoServer.Start("nethttp");
        using var tracer = AttachTo(srv, 1 << 20);
        // One request on a raw socket (HttpClient would retry it on the closed connection).
        var uri = new Uri(srv.BaseUrl);
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(uri.Host, uri.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET /panic HTTP/1.1\r\nHost: sonde\r\n\r\n"));
            var buf = new byte[256];
            Assert.Equal(0, await stream.ReadAsync(buf));   // closed, no answer: net/http recovered the panic
        }
        // New connections: their goroutines take dead goroutines' gs first.
        for (int i = 0; i < 20; i++)
            await LoadClient.SendAsync(srv.BaseUrl, [("GET", $"/users/{i}")], 1);
        srv.Kill();
        int leftInFlight = tracer.ForgetProcess(srv.Pid, Sonde.Capture.MonotonicClock.NowNs());
        var stats = tracer.ReadStats();
        Assert.Equal(21UL, stats.StartHits);
        Assert.Equal(20UL, stats.Events);
        Assert.Equal(1UL, stats.Abandoned + stats.ExitedInFlight);
        Assert.Equal((int)stats.ExitedInFlight, leftInFlight);
        Assert.Equal(0, tracer.MapEntries("inflight"));
    }

    [RootFact]
    public async Task A_full_ring_buffer_counts_every_lost_request_as_a_drop()
    {
        using var srv = GoServer.Start("nethttp");
        // 4 KiB holds 12 records of 328 bytes; nothing reads while 100 requests complete.
        using var tracer = AttachTo(srv, 4096);
        var sent = await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, 100).Select(i => ("GET", $"/users/{i}")).ToList(), 1);
        var stats = tracer.ReadStats();
        Assert.Equal(100UL, stats.StartHits);
        Assert.Equal(100UL, stats.Events + stats.Drops);
        Assert.InRange(stats.Events, 1UL, 12UL);

        var sink = new CountingSink();
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await tracer.RunAsync(sink, stop.Token);
        Assert.Equal((long)stats.Events, sink.Count);
        Assert.Equal(200L * sink.Count, sink.StatusSum);
    }

    [RootFact]
    public async Task Reading_requests_in_place_allocates_nothing_per_request()
    {
        using var srv = GoServer.Start("gin");
        using var tracer = AttachTo(srv, 8 << 20);
        const int N = 3000;
        await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, N).Select(i => ("GET", $"/users/{i}")).ToList(), 4);
        await Task.Delay(100);
        Assert.Equal((ulong)N, tracer.ReadStats().Events);

        var sink = new CountingSink();
        var reader = tracer.Reader;
        // Warm up (JIT) on the first batch, then measure the rest on this thread.
        Drain(reader, sink, maxRecords: 10);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Drain(reader, sink, maxRecords: int.MaxValue);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(N, sink.Count);
        Assert.Equal(0, allocated);
    }

    /// <summary>
    /// A record carries what occurred: the event alone (320 bytes) with the
    /// breakdown off; with it on, the breakdown and only the syscalls the request
    /// made and the peers it waited on, so a request with one syscall takes 424 bytes of ring, not 664.
    /// </summary>
    [RootTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Records_carry_only_what_occurred(bool breakdown)
    {
        using var srv = GoServer.Start("breakdown");
        var analysis = TargetAnalysis.For(GoExecutable.Open(srv.Binary), EndProbeMode.Auto, breakdown);
        Assert.Equal(breakdown, analysis.Breakdown);
        using var tracer = new HttpTracer(1 << 20);
        if (breakdown) tracer.AttachKernelEvents();
        tracer.Attach(analysis.Plan, analysis.Config, srv.Binary, [srv.Pid], out _);
        // CPU work (no syscall), a write+fsync (several), and a wait on a TCP peer.
        await LoadClient.SendAsync(srv.BaseUrl, Enumerable.Range(0, 40).Select(i => ("GET", (i % 3) switch { 0 => "/busy?ms=1", 1 => "/fsync", _ => "/peer?ms=1" })).ToList(), 1);
        var lengths = new List<(int Bytes, int Syscalls, int Categories, int Peers)>();
        var reader = tracer.Reader;
        while (reader.TryRead(out var result) && !result.Buffer.IsEmpty)
        {
            var records = new RingBufferRecords(result.Buffer.FirstSpan);
            while (records.MoveNext())
            {
                var view = HttpEvent.View(records.Current);
                lengths.Add((records.Current.Length, view.Syscalls.Length, view.BreakdownNs.Length, view.Peers.Length));
            }
            reader.AdvanceTo(result.Buffer.GetPosition(records.Consumed));
        }
        Assert.Equal(40, lengths.Count);
        if (!breakdown)
        {
            Assert.All(lengths, l => Assert.Equal((320, 0, 0, 0), l));
            return;
        }
        // The event, the breakdown's head (10 categories, 3 counts and a pad), the syscalls that occurred and
        // the peers waited on (64 bytes each); no call (the breakdown server makes none, and --calls is off).
        Assert.All(lengths, l => Assert.Equal(320 + 96 + 16 * l.Syscalls + 64 * l.Peers, l.Bytes));
        Assert.All(lengths, l => Assert.Equal(BreakdownCategories.Count, l.Categories));
        Assert.Contains(lengths, l => l.Syscalls >= 2);   // write and fsync
        Assert.Contains(lengths, l => l.Peers == 1);      // the peer, waited on for its answer
        Assert.True(lengths.Average(l => l.Bytes) < 664, "shorter than a record with room for 16 syscalls");
    }

    private static void Drain(RingBufferReader reader, IRequestSink sink, int maxRecords)
    {
        int n = 0;
        while (n < maxRecords && reader.TryRead(out var result))
        {
            if (result.Buffer.IsEmpty) { reader.AdvanceTo(result.Buffer.Start); break; }
            var records = new RingBufferRecords(result.Buffer.FirstSpan);
            int consumed = 0;
            while (n < maxRecords && records.MoveNext())
            {
                sink.OnRequest(HttpEvent.View(records.Current));
                consumed = records.Consumed;
                n++;
            }
            reader.AdvanceTo(result.Buffer.GetPosition(consumed));
        }
    }
}
