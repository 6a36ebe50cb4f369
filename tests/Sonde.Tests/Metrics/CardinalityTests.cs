using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>Series caps: a family past its cap, and a service past its route cap, fold into <c>other</c> and say so.</summary>
public sealed class CardinalityTests
{
    private static double Value(MetricsSnapshot snapshot, string family, params string[] labels) =>
        snapshot.Families.Single(f => f.Family.Name == family).Series.Single(s => s.LabelValues.SequenceEqual(labels)).Value;

    [Fact]
    public void A_full_family_sends_new_label_sets_to_the_all_other_series_and_counts_them()
    {
        var registry = new MetricsRegistry();
        var family = registry.AddCounter("hits", "h", ["a", "b"], maxSeries: 3);
        for (var i = 0; i < 5; i++) family.WithLabels("x" + i, "y").Increment();
        family.WithLabels("x0", "y").Increment();  // existing: not an overflow
        family.WithLabels("x4", "y").Increment();  // refused again

        var snapshot = registry.Collect();
        var series = snapshot.Families.Single(f => f.Family.Name == "hits").Series;
        Assert.Equal(["x0", "x1", "x2", "other"], series.Select(s => s.LabelValues[0]).OrderBy(v => v == "other").ThenBy(v => v));
        Assert.Equal(2, Value(snapshot, "hits", "x0", "y"));
        Assert.Equal(3, Value(snapshot, "hits", "other", "other"));
        Assert.Equal(3, Value(snapshot, "sonde_metric_series_overflow", "hits"));
        Assert.True(family.IsOverflow(family.WithLabels("x9", "z")));
        Assert.False(family.IsOverflow(family.WithLabels("x1", "y")));
        Assert.Equal(4, family.SeriesCount);
    }

    [Fact]
    public void A_service_past_its_route_cap_records_other_and_counts_the_requests()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry, new HttpServerMetricsOptions { MaxRoutesPerService = 2 });
        foreach (var path in new[] { "/a", "/b", "/c", "/d", "/a", "/c" })
            http.Record("shop", new RequestViews("GET", path, null, 200).View(1000));
        http.Record("cart", new RequestViews("GET", "/z", null, 200).View(1000)); // its own cap

        var snapshot = registry.Collect();
        var routes = snapshot.Families.Single(f => f.Family.Name == HttpServerMetrics.DurationName).Series
            .ToLookup(s => s.LabelValues[0], s => (Route: s.LabelValues[2], s.Histogram!.Count));
        Assert.Equal([("/a", 2L), ("/b", 1L), ("other", 3L)], routes["shop"].OrderBy(r => r.Route));
        Assert.Equal([("/z", 1L)], routes["cart"]);
        Assert.Equal(3, Value(snapshot, "sonde_route_overflow", "shop"));
        Assert.Equal(0, Value(snapshot, "sonde_route_overflow", "cart"));
    }

    [Fact]
    public void The_route_template_wins_over_the_path_and_unknown_methods_fold()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry, new HttpServerMetricsOptions { MaxRoutesPerService = 100 });
        for (var id = 0; id < 500; id++) http.Record("shop", new RequestViews("GET", "/users/" + id, "/users/:id", 200).View(1000));
        http.Record("shop", new RequestViews("BREW", "/pot", null, 418).View(1000));
        http.Record("shop", new RequestViews("get", "/pot", null, 0).View(1000));

        var series = registry.Collect().Families.Single(f => f.Family.Name == HttpServerMetrics.DurationName).Series;
        Assert.Equal(3, series.Count);
        Assert.Contains(series, s => s.LabelValues.SequenceEqual(["shop", "GET", "/users/:id", "200"]) && s.Histogram!.Count == 500);
        Assert.Contains(series, s => s.LabelValues.SequenceEqual(["shop", "_OTHER", "/pot", "418"]));
        // Methods are case-sensitive; an unread status (0) is the empty value.
        Assert.Contains(series, s => s.LabelValues.SequenceEqual(["shop", "_OTHER", "/pot", ""]));
    }

    [Fact]
    public void The_duration_family_cap_bounds_the_series_across_services()
    {
        var registry = new MetricsRegistry();
        var http = new HttpServerMetrics(registry, new HttpServerMetricsOptions { MaxSeries = 10, MaxRoutesPerService = 1000 });
        for (var i = 0; i < 100; i++) http.Record("svc" + (i % 3), new RequestViews("GET", "/r" + i, null, 200).View(5));
        var snapshot = registry.Collect();
        var series = snapshot.Families.Single(f => f.Family.Name == HttpServerMetrics.DurationName).Series;
        Assert.Equal(11, series.Count);
        Assert.Equal(90, series.Single(s => s.LabelValues.All(v => v == "other")).Histogram!.Count);
        Assert.Equal(100, series.Sum(s => s.Histogram!.Count));
        Assert.Equal(90, Value(snapshot, "sonde_metric_series_overflow", HttpServerMetrics.DurationName));
    }
}
