using System.Text;
using Sonde.Aggregation;
using Sonde.Tracing;

namespace Sonde.Tests.Aggregation;

public class RouteTableTests
{
    private static void Add(RouteTable table, string method, string path, string route, int status = 200, ulong durationNs = 1_000)
    {
        var view = new RequestView(1, 2, 3, 0, durationNs, status,
            Encoding.UTF8.GetBytes(method), Encoding.UTF8.GetBytes(path), Encoding.UTF8.GetBytes(route));
        table.Add(view);
    }

    private static RouteRow Row(RouteTable table, string method, string route) =>
        Assert.Single(table.Rows, r => r.Method == method && r.Route == route);

    [Fact]
    public void GroupsByMethodAndRouteTemplate()
    {
        var table = new RouteTable();
        Add(table, "GET", "/users/1", "/users/:id", durationNs: 100);
        Add(table, "GET", "/users/2", "/users/:id", durationNs: 300);
        Add(table, "POST", "/users/3", "/users/:id");
        Add(table, "GET", "/health", "/health");

        Assert.Equal(3, table.Rows.Count);
        var users = Row(table, "GET", "/users/:id");
        Assert.Equal(2, users.Count);
        Assert.Equal(RouteKind.Template, users.Kind);
        Assert.Equal(300UL, users.Latency.MaxNs);
        Assert.Equal(100UL, users.Latency.MinNs);
        Assert.Equal("GET /users/:id", users.DisplayName);
        Assert.Equal(1, Row(table, "POST", "/users/:id").Count);
        Assert.Equal(4, table.All.Count);
        Assert.Equal(0, table.Other.Count);
    }

    [Fact]
    public void UsesThePathWhenTheRouteIsUnknown()
    {
        var table = new RouteTable();
        Add(table, "GET", "/static/app.js", "");
        Add(table, "GET", "/static/app.js", "");
        // A template that spells the same as a path is a different row.
        Add(table, "GET", "/other", "/static/app.js");

        var byPath = Assert.Single(table.Rows, r => r.Kind == RouteKind.Path);
        Assert.Equal("/static/app.js", byPath.Route);
        Assert.Equal(2, byPath.Count);
        var byTemplate = Assert.Single(table.Rows, r => r.Kind == RouteKind.Template);
        Assert.Equal(1, byTemplate.Count);
    }

    [Fact]
    public void KeysDoNotRunTogether()
    {
        var table = new RouteTable();
        Add(table, "GET /a", "", "b");
        Add(table, "GET", "", "/a b");
        Assert.Equal(2, table.Rows.Count);
    }

    [Fact]
    public void CountsOnly5xxAsErrors()
    {
        var table = new RouteTable();
        foreach (var status in new[] { 0, 200, 404, 499, 500, 503, 599, 600 })
            Add(table, "GET", "/x", "/x", status);
        Assert.Equal(3, Row(table, "GET", "/x").Errors);
        Assert.Equal(3, table.All.Errors);
    }

    [Fact]
    public void FoldsKeysPastTheCapIntoOther()
    {
        var table = new RouteTable(maxRows: 3);
        for (var i = 0; i < 10; i++)
        {
            Add(table, "GET", $"/items/{i}", "", status: i == 9 ? 502 : 200);
            Add(table, "GET", $"/items/{i}", "");
        }

        Assert.Equal(3, table.Rows.Count);
        Assert.All(table.Rows, r => Assert.Equal(2, r.Count));
        Assert.Equal(14, table.Other.Count);
        Assert.Equal(1, table.Other.Errors);
        Assert.Equal(7, table.FoldedKeys);
        Assert.False(table.FoldedKeysIsLowerBound);
        Assert.Equal(20, table.All.Count);
        Assert.Equal("other", table.Other.Route);
        Assert.Equal(RouteKind.Other, table.Other.Kind);

        // Rows that existed before the table filled keep counting.
        Add(table, "GET", "/items/0", "");
        Assert.Equal(3, Row(table, "GET", "/items/0").Count);
    }

    [Fact]
    public void FoldedKeyCountSaysWhenItIsOnlyALowerBound()
    {
        var table = new RouteTable(maxRows: 0);
        var method = "GET"u8.ToArray();
        var path = new byte[16];
        for (var i = 0; i <= RouteTable.MaxTrackedFoldedKeys; i++)
        {
            System.Text.Unicode.Utf8.FromUtf16($"/{i:x8}", path, out _, out var written);
            table.Add(new RequestView(1, 1, 1, 0, 1, 200, method, path.AsSpan(0, written), default));
        }
        Assert.Equal(RouteTable.MaxTrackedFoldedKeys, table.FoldedKeys);
        Assert.True(table.FoldedKeysIsLowerBound);
        Assert.Equal(RouteTable.MaxTrackedFoldedKeys + 1, table.Other.Count);
    }

    [Fact]
    public void ZeroRowsFoldsEverything()
    {
        var table = new RouteTable(maxRows: 0);
        Add(table, "GET", "/a", "");
        Add(table, "GET", "/b", "");
        Assert.Empty(table.Rows);
        Assert.Equal(2, table.Other.Count);
        Assert.Equal(2, table.FoldedKeys);
    }

    [Fact]
    public void InvalidUtf8KeysAreRowsToo()
    {
        var table = new RouteTable();
        table.Add(new RequestView(1, 1, 1, 0, 5, 200, "GET"u8, [0x2F, 0xFF, 0xC3], default));
        var row = Assert.Single(table.Rows);
        Assert.Equal("/\uFFFD\uFFFD", row.Route);
    }

    [Fact]
    public void LongKeysWork()
    {
        var table = new RouteTable();
        var longPath = "/" + new string('a', 5_000);
        Add(table, "GET", longPath, "");
        Add(table, "GET", longPath, "");
        Assert.Equal(2, Row(table, "GET", longPath).Count);
    }

    [Fact]
    public void AddingToAnExistingRowDoesNotAllocate()
    {
        var table = new RouteTable();
        var method = "GET"u8.ToArray();
        var path = "/users/42"u8.ToArray();
        var route = "/users/:id"u8.ToArray();
        var other = "/orders/7"u8.ToArray();
        void AddMany(int n)
        {
            for (var i = 0; i < n; i++)
            {
                table.Add(new RequestView(1, 2, i, (ulong)i, (ulong)i * 131, 200 + i % 400, method, path, route));
                table.Add(new RequestView(1, 2, i, (ulong)i, (ulong)i * 17, 200, method, other, default));
            }
        }
        AddMany(1_000); // create both rows, warm up the JIT

        var before = GC.GetAllocatedBytesForCurrentThread();
        AddMany(50_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(51_000, Row(table, "GET", "/users/:id").Count);
    }

    [Fact]
    public void AddingAnAlreadyFoldedKeyDoesNotAllocate()
    {
        var table = new RouteTable(maxRows: 1);
        var method = "GET"u8.ToArray();
        var paths = Enumerable.Range(0, 10).Select(i => Encoding.UTF8.GetBytes($"/p/{i}")).ToArray();
        void AddMany(int n)
        {
            for (var i = 0; i < n; i++)
                table.Add(new RequestView(1, 2, 3, 0, (ulong)i, 200, method, paths[i % paths.Length], default));
        }
        AddMany(1_000);

        var before = GC.GetAllocatedBytesForCurrentThread();
        AddMany(100_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(9, table.FoldedKeys);
    }
}
