using System.Diagnostics;
using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>
/// One thread records as fast as it can while others scrape in every format:
/// no exceptions, every snapshot internally exact, counts never go back.
/// </summary>
public sealed class ConcurrentScrapeTests
{
    [Fact]
    public async Task Snapshots_taken_during_recording_are_exact_and_monotone()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry);
        var requests = Enumerable.Range(0, 8).Select(i => new RequestViews(i % 3 == 0 ? "POST" : "GET", "/r" + i, null, 200 + i % 2 * 300)).ToArray();
        const int Total = 2_000_000;
        using var done = new CancellationTokenSource();

        var scrapes = 0;
        var writer = Task.Factory.StartNew(() =>
        {
            // Start recording only once the scrapers run: on a busy machine the thread
            // pool may start them after a recording this short is over.
            SpinWait.SpinUntil(() => Volatile.Read(ref scrapes) >= 2, TimeSpan.FromSeconds(30));
            var random = new Random(5);
            for (var i = 0; i < Total; i++) http.Record("svc", requests[i & 7].View((ulong)random.Next(1, 2_000_000_000)));
        }, TaskCreationOptions.LongRunning);

        async Task Scraper(ExpositionFormat format)
        {
            var last = new Dictionary<string, (long Count, double Sum)>();
            while (!writer.IsCompleted)
            {
                var snapshot = registry.Collect();
                MetricsExposition.ToBytes(snapshot, format);
                Interlocked.Increment(ref scrapes);
                // Before the first Record the family has no series and is left out of snapshots.
                var family = snapshot.Families.SingleOrDefault(f => f.Family.Name == HttpServerMetrics.DurationName);
                foreach (var series in family?.Series ?? [])
                {
                    var h = series.Histogram!;
                    Assert.Equal(h.Count, h.BucketCounts.Sum());
                    Assert.Equal(h.Count, h.NativeCounts.Sum() + h.ZeroCount);
                    // Every observation is between 1 ns and 2 s: the sum must agree with the count it was read with.
                    Assert.InRange(h.Sum, h.Count * 1e-9, h.Count * 2.0);
                    string key = string.Join('|', series.LabelValues);
                    if (last.TryGetValue(key, out var previous))
                    {
                        Assert.True(h.Count >= previous.Count, "count went back");
                        Assert.True(h.Sum >= previous.Sum, "sum went back");
                    }
                    last[key] = (h.Count, h.Sum);
                }
                await Task.Yield();
            }
        }

        var sw = Stopwatch.StartNew();
        await Task.WhenAll(writer, Task.Run(() => Scraper(ExpositionFormat.Protobuf)), Task.Run(() => Scraper(ExpositionFormat.PrometheusText)));
        var final = registry.Collect().Families.Single(f => f.Family.Name == HttpServerMetrics.DurationName).Series;
        Assert.Equal(Total, final.Sum(s => s.Histogram!.Count));
        Assert.True(scrapes > 10, $"only {scrapes} scrapes overlapped the recording ({sw.Elapsed})");
    }
}
