using System.Text;
using System.Text.Json;
using Sonde.Capture;
using Sonde.Tracing;

namespace Sonde.Tests.Capture;

public class JsonRequestWriterTests
{
    private static List<JsonDocument> ParseLines(MemoryStream output)
    {
        var text = Encoding.UTF8.GetString(output.ToArray());
        Assert.EndsWith("\n", text);
        var lines = text.Split('\n')[..^1];
        return lines.Select(line => JsonDocument.Parse(line)).ToList();
    }

    private static JsonElement WriteOne(in RequestView view)
    {
        var output = new MemoryStream();
        using (var writer = new JsonRequestWriter(output, leaveOpen: true)) writer.Write(view);
        var bytes = output.ToArray();
        Assert.True(Encoding.UTF8.GetString(bytes).Count(c => c == '\n') == 1, "exactly one line");
        // Strict: throws on invalid UTF-8 or anything that is not JSON.
        var reader = new Utf8JsonReader(bytes);
        while (reader.Read()) { }
        return JsonDocument.Parse(bytes).RootElement;
    }

    [Fact]
    public void WritesTheContractFieldsWithTheirTypesAndValues()
    {
        var root = WriteOne(new RequestView(4242, 4243, 17, 123_456_789_012_345, 1_500_000, 200,
            "GET"u8, "/users/42"u8, "/users/:id"u8));

        Assert.Equal(
            ["pid", "tid", "goid", "start_ns", "duration_ns", "method", "path", "route", "status"],
            root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(4242, root.GetProperty("pid").GetInt32());
        Assert.Equal(4243, root.GetProperty("tid").GetInt32());
        Assert.Equal(17L, root.GetProperty("goid").GetInt64());
        Assert.Equal(123_456_789_012_345UL, root.GetProperty("start_ns").GetUInt64());
        Assert.Equal(1_500_000UL, root.GetProperty("duration_ns").GetUInt64());
        Assert.Equal("GET", root.GetProperty("method").GetString());
        Assert.Equal("/users/42", root.GetProperty("path").GetString());
        Assert.Equal("/users/:id", root.GetProperty("route").GetString());
        Assert.Equal(200, root.GetProperty("status").GetInt32());
        Assert.Equal(JsonValueKind.Number, root.GetProperty("pid").ValueKind);
        Assert.Equal(JsonValueKind.Number, root.GetProperty("status").ValueKind);
        Assert.Equal(JsonValueKind.String, root.GetProperty("method").ValueKind);
    }

    [Fact]
    public void A_gRPC_call_adds_its_status_and_an_HTTP_request_has_none()
    {
        var call = WriteOne(new RequestView(1, 1, 1, 1, 1, 200, "POST"u8, "/grpc.health.v1.Health/Check"u8, "/grpc.health.v1.Health/Check"u8, grpcStatus: 5));
        Assert.Equal(
            ["pid", "tid", "goid", "start_ns", "duration_ns", "method", "path", "route", "status", "grpc_status"],
            call.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(5, call.GetProperty("grpc_status").GetInt32());
        var unknown = WriteOne(new RequestView(1, 1, 1, 1, 1, 200, "POST"u8, "/a.B/C"u8, "/a.B/C"u8, grpcStatus: RequestView.GrpcStatusUnknown));
        Assert.Equal(JsonValueKind.Null, unknown.GetProperty("grpc_status").ValueKind);
        var http = WriteOne(new RequestView(1, 1, 1, 1, 1, 200, "POST"u8, "/a.B/C"u8, "/a.B/C"u8));
        Assert.False(http.TryGetProperty("grpc_status", out _));
    }

    [Fact]
    public void UnknownRouteIsNull()
    {
        var root = WriteOne(new RequestView(1, 1, 1, 1, 1, 0, "GET"u8, "/x"u8, default));
        Assert.Equal(JsonValueKind.Null, root.GetProperty("route").ValueKind);
        Assert.Equal(0, root.GetProperty("status").GetInt32());
    }

    [Fact]
    public void ExtremeNumbersRoundTrip()
    {
        var root = WriteOne(new RequestView(int.MaxValue, int.MinValue, long.MinValue, ulong.MaxValue, ulong.MaxValue, -1,
            default, default, default));
        Assert.Equal(int.MaxValue, root.GetProperty("pid").GetInt32());
        Assert.Equal(int.MinValue, root.GetProperty("tid").GetInt32());
        Assert.Equal(long.MinValue, root.GetProperty("goid").GetInt64());
        Assert.Equal(ulong.MaxValue, root.GetProperty("start_ns").GetUInt64());
        Assert.Equal(ulong.MaxValue, root.GetProperty("duration_ns").GetUInt64());
        Assert.Equal("", root.GetProperty("method").GetString());
        Assert.Equal("", root.GetProperty("path").GetString());
    }

    public static TheoryData<string, byte[]> HostileStrings => new()
    {
        { "quotes and backslashes", "\"GET\\\"\\"u8.ToArray() },
        { "all C0 controls", Enumerable.Range(0, 32).Select(i => (byte)i).ToArray() },
        { "DEL and terminal escape", "\u001b[31mred\u001b[0m\u007f"u8.ToArray() },
        { "C1 controls", "\u0085\u009b\u0080"u8.ToArray() },
        { "line separators", "a\u2028b\u2029c"u8.ToArray() },
        { "valid non-ASCII", "/caf\u00e9/\u65e5\u672c/\U0001F600"u8.ToArray() },
        { "lone continuation and 0xFF", new byte[] { 0x2F, 0x80, 0xFF, 0xFE, 0x41 } },
        { "cut-off sequence at the end", new byte[] { 0x2F, 0xE6, 0x97 } },
        { "overlong slash", new byte[] { 0xC0, 0xAF } },
        { "UTF-8 encoded surrogate", new byte[] { 0xED, 0xA0, 0x80, 0x42 } },
        { "beyond U+10FFFF", new byte[] { 0xF4, 0x90, 0x80, 0x80 } },
        { "cut sequence then quote", new byte[] { 0xE6, 0x22, 0x5C } },
    };

    [Theory]
    [MemberData(nameof(HostileStrings))]
    public void HostileBytesStillMakeValidJsonThatDecodesLikeUtf8(string description, byte[] bytes)
    {
        var root = WriteOne(new RequestView(1, 1, 1, 1, 1, 200, bytes, bytes, bytes));
        // .NET's decoder replaces each maximal invalid subsequence by one U+FFFD, as the writer does.
        var expected = Encoding.UTF8.GetString(bytes);
        Assert.True(expected == root.GetProperty("method").GetString(), description);
        Assert.Equal(expected, root.GetProperty("path").GetString());
        Assert.Equal(expected, root.GetProperty("route").GetString());
    }

    [Fact]
    public void ControlCharactersNeverReachTheOutputRaw()
    {
        var output = new MemoryStream();
        using (var writer = new JsonRequestWriter(output, leaveOpen: true))
            writer.Write(new RequestView(1, 1, 1, 1, 1, 200, "\u001b\u009b"u8, "\r\n\0\u007f"u8, default));
        var text = Encoding.UTF8.GetString(output.ToArray());
        Assert.DoesNotContain(text[..^1], c => c < 0x20 || c is >= '\u007f' and <= '\u009f');
        Assert.Contains("\\u001b\\u009b", text);
        Assert.Contains("\\r\\n\\u0000\\u007f", text);
    }

    [Fact]
    public void WritesOneLinePerRequest()
    {
        var output = new MemoryStream();
        using (var writer = new JsonRequestWriter(output, leaveOpen: true, bufferSize: 512))
        {
            for (var i = 0; i < 1_000; i++)
                writer.Write(new RequestView(i, i, i, (ulong)i, (ulong)i, 200, "GET"u8, Encoding.UTF8.GetBytes($"/p/{i}\n"), default));
            Assert.Equal(1_000, writer.LinesWritten);
        }
        var docs = ParseLines(output);
        Assert.Equal(1_000, docs.Count);
        for (var i = 0; i < docs.Count; i++)
        {
            Assert.Equal(i, docs[i].RootElement.GetProperty("pid").GetInt32());
            Assert.Equal($"/p/{i}\n", docs[i].RootElement.GetProperty("path").GetString());
        }
    }

    [Fact]
    public void AStringLongerThanTheBufferStillFits()
    {
        var output = new MemoryStream();
        var path = Enumerable.Repeat((byte)0x01, 10_000).ToArray(); // each becomes \u0001
        using (var writer = new JsonRequestWriter(output, leaveOpen: true, bufferSize: 1024))
        {
            writer.Write(new RequestView(1, 1, 1, 1, 1, 200, "GET"u8, path, default));
            writer.Write(new RequestView(2, 1, 1, 1, 1, 200, "GET"u8, "/"u8, default));
        }
        var docs = ParseLines(output);
        Assert.Equal(2, docs.Count);
        Assert.Equal(new string('\u0001', 10_000), docs[0].RootElement.GetProperty("path").GetString());
    }

    [Fact]
    public void BuffersUntilFlushOrDisposeAndFlushesStaleLines()
    {
        var output = new MemoryStream();
        var writer = new JsonRequestWriter(output, leaveOpen: true, flushInterval: TimeSpan.FromHours(1));
        writer.Write(new RequestView(1, 1, 1, 1, 1, 200, "GET"u8, "/"u8, default));
        Assert.Equal(0, output.Length);
        writer.FlushIfDue();
        Assert.Equal(0, output.Length);
        writer.Flush();
        var flushed = output.Length;
        Assert.True(flushed > 0);
        writer.Write(new RequestView(1, 1, 1, 1, 1, 200, "GET"u8, "/"u8, default));
        writer.Dispose();
        Assert.Equal(2 * flushed, output.Length);
        Assert.True(output.CanWrite, "leaveOpen keeps the stream open");

        var eager = new MemoryStream();
        using var zeroInterval = new JsonRequestWriter(eager, leaveOpen: true, flushInterval: TimeSpan.Zero);
        zeroInterval.Write(new RequestView(1, 1, 1, 1, 1, 200, "GET"u8, "/"u8, default));
        Assert.Equal(flushed, eager.Length);
    }

    [Fact]
    public void DisposeClosesTheStreamUnlessLeftOpen()
    {
        var output = new MemoryStream();
        new JsonRequestWriter(output).Dispose();
        Assert.False(output.CanWrite);
    }

    [Fact]
    public void WriteDoesNotAllocateAfterWarmUp()
    {
        using var writer = new JsonRequestWriter(Stream.Null, bufferSize: 4096, flushInterval: TimeSpan.Zero);
        var method = "GET"u8.ToArray();
        var path = "/users/42?\"\u001b\u00e9"u8.ToArray().Append((byte)0xFF).ToArray();
        var route = "/users/:id"u8.ToArray();
        void WriteMany(int n)
        {
            for (var i = 0; i < n; i++)
            {
                writer.Write(new RequestView(i, i, i, (ulong)i, (ulong)i, 200, method, path, i % 2 == 0 ? route : default));
                if (i % 100 == 0) writer.Flush();
            }
        }
        WriteMany(1_000);

        var before = GC.GetAllocatedBytesForCurrentThread();
        WriteMany(100_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
