using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Sonde.Bench;

// ringbuf-bench BENCH_BPF_O PRODUCER_PID BATCH RING_BYTES WARMUP_S MEASURE_S stream|drain
//
// Consumes bpf/bench.bpf.c's records with Sonde's RingBufferReader, the way
// sonde trace does, while PRODUCER_PID (tests/bench/ringbuf/producer.c) makes
// them flat out. Prints one JSON object, like tests/bench/ringbuf/consumer.c,
// plus allocation and GC counts. Exit 1 when a record is malformed or the
// totals don't add up; 2 on a usage or setup error.
if (args.Length != 7 || args[6] is not ("stream" or "drain"))
{
    Console.Error.WriteLine("usage: ringbuf-bench BENCH_BPF_O PRODUCER_PID BATCH RING_BYTES WARMUP_S MEASURE_S stream|drain");
    return 2;
}
if (Unsafe.SizeOf<BenchEvent>() != 64)
{
    Console.Error.WriteLine($"ringbuf-bench: BenchEvent is {Unsafe.SizeOf<BenchEvent>()} bytes, bpf/bench.h says 64");
    return 2;
}
var inv = CultureInfo.InvariantCulture;
string objectPath = args[0];
int producerPid = int.Parse(args[1], inv);
uint batch = uint.Parse(args[2], inv);
uint ringBytes = uint.Parse(args[3], inv);
var warmup = TimeSpan.FromSeconds(double.Parse(args[4], inv));
var measure = TimeSpan.FromSeconds(double.Parse(args[5], inv));
bool drainMode = args[6] == "drain";

BenchRing ring;
try { ring = new BenchRing(objectPath, producerPid, batch, ringBytes); }
catch (Exception e)
{
    Console.Error.WriteLine($"ringbuf-bench: {e.Message}");
    return 2;
}
using (ring)
{
    var tally = new RecordTally();
    var loop = new ReaderLoop(ring.Reader, tally);
    var window = drainMode ? DrainWindow(ring, loop, tally, warmup, measure) : StreamWindow(ring, loop, tally, warmup, measure);

    // Stop producing, take what is left, and check the books.
    ring.Detach();
    Thread.Sleep(100);   // a run already under way on the producer's CPU finishes
    loop.Drain();
    ulong produced = ring.Produced, failed = ring.Failed;
    ulong consumed = (ulong)tally.Consumed;
    bool ok = tally.Bad == 0 && consumed == produced && consumed + tally.Gaps <= produced + failed;

    Console.WriteLine(string.Create(inv,
        $"{{\"consumer\":\"{(drainMode ? "Sonde RingBufferReader.TryRead" : "Sonde RingBufferReader.ReadAsync")}\"," +
        $"\"events\":{window.Events},\"batches\":{window.Batches},\"seconds\":{window.Seconds:0.000000},\"cpu_seconds\":{window.CpuSeconds:0.000000}," +
        $"\"produced\":{window.Produced},\"failed\":{window.Failed}," +
        $"\"read_seconds\":{window.ReadSeconds:0.000000},\"thread_bytes\":{window.ThreadBytes},\"process_bytes\":{window.ProcessBytes},\"gcs\":{window.Gcs}," +
        $"\"total_consumed\":{consumed},\"total_produced\":{produced},\"total_failed\":{failed}," +
        $"\"bad\":{tally.Bad},\"ok\":{(ok ? "true" : "false")}}}"));
    return ok ? 0 : 1;
}

// Steady state: HttpTracer's loop runs on the pool while this thread takes
// two snapshots, WARMUP_S and WARMUP_S + MEASURE_S after the start.
static Window StreamWindow(BenchRing ring, ReaderLoop loop, RecordTally tally, TimeSpan warmup, TimeSpan measure)
{
    using var stop = new CancellationTokenSource();
    var consuming = Task.Run(() => loop.RunAsync(stop.Token));
    Thread.Sleep(warmup);
    var a = Snapshot.Take(ring, loop, tally);
    Thread.Sleep(measure);
    var b = Snapshot.Take(ring, loop, tally);
    stop.Cancel();
    consuming.GetAwaiter().GetResult();
    return b - a;
}

// Consumer-bound: let the producer fill the ring for 20 ms, then time how fast
// the reader empties it while the producer keeps refilling. Only the drains
// count: their wall time and this thread's CPU time in them.
static Window DrainWindow(BenchRing ring, ReaderLoop loop, RecordTally tally, TimeSpan warmup, TimeSpan measure)
{
    var fill = TimeSpan.FromMilliseconds(20);
    var until = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
    while (Stopwatch.GetTimestamp() < until) { Thread.Sleep(fill); loop.Drain(); }
    loop.ResetReadSeconds();
    var a = Snapshot.Take(ring, loop, tally);
    long events = 0, batches = 0, wall = 0;
    double cpu = 0;
    until = Stopwatch.GetTimestamp() + (long)(measure.TotalSeconds * Stopwatch.Frequency);
    while (Stopwatch.GetTimestamp() < until)
    {
        Thread.Sleep(fill);
        long e0 = tally.Consumed, b0 = loop.Batches;
        long w0 = Stopwatch.GetTimestamp();
        double c0 = ThreadCpuClock.Seconds();
        loop.Drain();
        double c1 = ThreadCpuClock.Seconds();
        long w1 = Stopwatch.GetTimestamp();
        events += tally.Consumed - e0;
        batches += loop.Batches - b0;
        wall += w1 - w0;
        cpu += c1 - c0;
    }
    var whole = Snapshot.Take(ring, loop, tally) - a;
    return whole with { Events = events, Batches = batches, Seconds = (double)wall / Stopwatch.Frequency, CpuSeconds = cpu, ReadSeconds = loop.ReadSeconds };
}
