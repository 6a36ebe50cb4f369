using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Sonde.Aggregation;
using Sonde.Capture;
using Sonde.Tracing;

namespace Sonde.Tests.Capture;

public class CaptureFileTests
{
    private static CaptureHeader SampleHeader()
    {
        var header = new CaptureHeader
        {
            SondeVersion = "0.1.0-test",
            HostName = "web-1",
            StartTimeUnixNs = 1_750_000_000_123_456_789,
            StartMonotonicNs = 5_000_000_000,
        };
        header.Targets.Add(CaptureTarget.FromTargetInfo(new TargetInfo(4242, "/usr/bin/myservice", "go1.19.8")
        {
            Modules = new Dictionary<string, string> { ["github.com/gin-gonic/gin"] = "v1.8.1", ["golang.org/x/net"] = "v0.7.0" },
        }));
        header.Targets.Add(CaptureTarget.FromTargetInfo(new TargetInfo(4243, "/usr/bin/other", null)));
        header.CommandLine.Add(["sonde", "trace", "--pid", "4242", "--out", "capture.sonde"]);
        return header;
    }

    private sealed record Sample(int Pid, int Tid, long Goid, ulong StartNs, ulong DurationNs, int Status, byte[] Method, byte[] Path, byte[] Route,
        int GrpcStatus = RequestView.NotGrpc)
    {
        public RequestView View => new(Pid, Tid, Goid, StartNs, DurationNs, Status, Method, Path, Route, grpcStatus: GrpcStatus);
    }

    private static List<Sample> SampleRequests(int n)
    {
        var random = new Random(n);
        var list = new List<Sample>();
        for (var i = 0; i < n; i++)
        {
            var path = i % 7 == 3 ? new byte[] { 0x2F, 0xFF, 0x00, 0x22 } : Encoding.UTF8.GetBytes($"/users/{i}");
            var route = i % 3 == 0 ? [] : "/users/:id"u8.ToArray();
            // Every sixth a gRPC call, with its status code; one in three of those ended without one.
            int grpc = i % 6 != 5 ? RequestView.NotGrpc : i % 18 == 5 ? RequestView.GrpcStatusUnknown : i % 17;
            list.Add(new Sample(4242 + i % 2, 100 + i, i * 3 + 1, 5_000_000_000 + (ulong)i * 1_000_000,
                (ulong)random.NextInt64(1, 1L << 34), i % 5 == 0 ? 503 : 200, i % 4 == 0 ? "POST"u8.ToArray() : "GET"u8.ToArray(), path, route, grpc));
        }
        return list;
    }

    private static readonly CaptureTrailer SampleTrailer = new()
    {
        EndTimeUnixNs = 1_750_000_030_000_000_000,
        EndMonotonicNs = 35_000_000_000,
        DropCount = 17,
        RequestCount = 5,
    };

    private static byte[] WriteCapture(IReadOnlyList<Sample> requests, CaptureTrailer? trailer)
    {
        var output = new MemoryStream();
        using (var writer = new CaptureWriter(output, SampleHeader(), leaveOpen: true))
        {
            foreach (var r in requests) writer.Write(r.View);
            if (trailer is not null) writer.Complete(trailer);
        }
        return output.ToArray();
    }

    private static void AssertSame(Sample expected, CapturedRequest actual)
    {
        Assert.Equal(expected.Pid, actual.Pid);
        Assert.Equal(expected.Tid, actual.Tid);
        Assert.Equal(expected.Goid, actual.Goid);
        Assert.Equal(expected.StartNs, actual.StartNs);
        Assert.Equal(expected.DurationNs, actual.DurationNs);
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.Method, actual.Method.ToByteArray());
        Assert.Equal(expected.Path, actual.Path.ToByteArray());
        Assert.Equal(expected.Route, actual.Route.ToByteArray());
        var view = actual.AsView();
        Assert.True(view.Path.SequenceEqual(expected.Path));
        Assert.Equal(expected.Route.Length == 0, view.Route.IsEmpty);
        Assert.Equal(expected.GrpcStatus, view.GrpcStatus);
        Assert.Equal(expected.GrpcStatus != RequestView.NotGrpc, actual.HasGrpcStatus);
    }

    /// <summary>Reads the whole file: the requests, or the exception the reader threw.</summary>
    private static (CaptureReader? Reader, List<CapturedRequest> Requests, CaptureFormatException? Error) ReadAll(Stream input)
    {
        var requests = new List<CapturedRequest>();
        try
        {
            var reader = new CaptureReader(input);
            requests.AddRange(reader.ReadRequests());
            return (reader, requests, null);
        }
        catch (CaptureFormatException e)
        {
            return (null, requests, e);
        }
    }

    [Fact]
    public void RoundTripsHeaderRequestsAndTrailer()
    {
        var requests = SampleRequests(5);
        var bytes = WriteCapture(requests, SampleTrailer);

        Assert.Equal("SONDECAP"u8.ToArray(), bytes[..8]);
        Assert.Equal(new byte[] { 1, 0, 0, 0 }, bytes[8..12]);

        using var reader = new CaptureReader(new MemoryStream(bytes));
        Assert.Equal(SampleHeader(), reader.Header);
        var target = reader.Header.Targets[0].ToTargetInfo();
        Assert.Equal(4242, target.Pid);
        Assert.Equal("/usr/bin/myservice", target.ExePath);
        Assert.Equal("go1.19.8", target.GoVersion);
        Assert.Equal("v1.8.1", target.Modules["github.com/gin-gonic/gin"]);
        Assert.Null(reader.Header.Targets[1].ToTargetInfo().GoVersion);
        Assert.Equal(new DateTimeOffset(2025, 6, 15, 15, 6, 40, TimeSpan.Zero).AddTicks(1_234_567), reader.Header.StartTime);

        var read = reader.ReadRequests().ToList();
        Assert.Equal(requests.Count, read.Count);
        for (var i = 0; i < requests.Count; i++) AssertSame(requests[i], read[i]);
        Assert.Equal(SampleTrailer, reader.Trailer);
        Assert.False(reader.IsTruncated);
        Assert.Equal(5, reader.RequestsRead);
        Assert.False(reader.TryReadRequest(out _));
    }

    [Fact]
    public void RecordsAreVarintLengthDelimitedCaptureRecords()
    {
        var requests = SampleRequests(3);
        var bytes = WriteCapture(requests, SampleTrailer);
        var input = new CodedInputStream(bytes[CaptureFormat.PreambleLength..]);
        var records = new List<CaptureRecord>();
        while (!input.IsAtEnd)
        {
            var record = new CaptureRecord();
            input.ReadMessage(record); // varint length + message, as writeDelimitedTo writes
            records.Add(record);
        }
        Assert.Equal(5, records.Count);
        Assert.Equal(CaptureRecord.KindOneofCase.Header, records[0].KindCase);
        Assert.All(records.Skip(1).Take(3), r => Assert.Equal(CaptureRecord.KindOneofCase.Request, r.KindCase));
        Assert.Equal(CaptureRecord.KindOneofCase.Trailer, records[^1].KindCase);

        // Readers written with protobuf's own delimited parser read the same.
        var stream = new MemoryStream(bytes, CaptureFormat.PreambleLength, bytes.Length - CaptureFormat.PreambleLength);
        Assert.Equal(SampleHeader(), CaptureRecord.Parser.ParseDelimitedFrom(stream).Header);
    }

    [Fact]
    public void FileWithoutTrailerIsTruncatedButComplete()
    {
        var requests = SampleRequests(4);
        var (reader, read, error) = ReadAll(new MemoryStream(WriteCapture(requests, trailer: null)));
        Assert.Null(error);
        Assert.True(reader!.IsTruncated);
        Assert.Null(reader.Trailer);
        Assert.Equal(4, read.Count);
    }

    /// <summary>A stream that cannot seek, so the reader cannot compare a length prefix with the file size.</summary>
    private sealed class PipeLikeStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TruncatedAtEveryOffsetReturnsTheCompleteRecords(bool seekable)
    {
        var requests = SampleRequests(6);
        var bytes = WriteCapture(requests, SampleTrailer);

        // Where each record ends, computed from the format's definition.
        var headerEnd = CaptureFormat.PreambleLength + DelimitedSize(new CaptureRecord { Header = SampleHeader() });
        var requestEnds = new List<int>();
        var end = headerEnd;
        var reader0 = new CaptureReader(new MemoryStream(bytes));
        foreach (var r in reader0.ReadRequests())
        {
            end += DelimitedSize(new CaptureRecord { Request = r });
            requestEnds.Add(end);
        }
        Assert.Equal(bytes.Length, end + DelimitedSize(new CaptureRecord { Trailer = SampleTrailer }));

        for (var cut = 0; cut <= bytes.Length; cut++)
        {
            var prefix = bytes[..cut];
            var (reader, read, error) = ReadAll(seekable ? new MemoryStream(prefix) : new PipeLikeStream(prefix));
            if (cut < headerEnd)
            {
                Assert.NotNull(error);
                Assert.True(error.IsTruncation, $"cut at {cut}: {error.Message}");
                Assert.Contains("truncated", error.Message);
                continue;
            }
            Assert.True(error is null, $"cut at {cut}: {error?.Message}");
            var complete = requestEnds.Count(e => e <= cut);
            Assert.Equal(complete, read.Count);
            for (var i = 0; i < complete; i++) AssertSame(requests[i], read[i]);
            Assert.Equal(cut != bytes.Length, reader!.IsTruncated);
            Assert.Equal(cut == bytes.Length, reader.Trailer is not null);
        }
    }

    private static int DelimitedSize(CaptureRecord record)
    {
        var size = record.CalculateSize();
        return CodedOutputStream.ComputeLengthSize(size) + size;
    }

    [Fact]
    public void HugeLengthPrefixIsACorruptFileNotAnAllocation()
    {
        var bytes = WriteCapture(SampleRequests(2), SampleTrailer);
        var headerEnd = CaptureFormat.PreambleLength + DelimitedSize(new CaptureRecord { Header = SampleHeader() });
        var corrupt = bytes[..headerEnd].Concat(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x07 }).Concat(bytes[headerEnd..]).ToArray();

        foreach (var input in new Stream[] { new MemoryStream(corrupt), new PipeLikeStream(corrupt) })
        {
            using var reader = new CaptureReader(input);
            var before = GC.GetAllocatedBytesForCurrentThread();
            var error = Assert.Throws<CaptureFormatException>(() => reader.TryReadRequest(out _));
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
            Assert.False(error.IsTruncation);
            Assert.Equal(headerEnd, error.Offset);
            Assert.Contains("limit", error.Message);
            Assert.Contains("corrupt", error.Message);
        }
    }

    [Fact]
    public void LengthPastTheEndOfASeekableFileIsTruncationWithoutAllocatingIt()
    {
        var bytes = WriteCapture(SampleRequests(1), trailer: null);
        // A cut right after a length prefix that announces a 1,000,000-byte record.
        var cut = bytes.Concat(new byte[] { 0xC0, 0x84, 0x3D }).Concat(new byte[10]).ToArray();
        using var reader = new CaptureReader(new MemoryStream(cut));
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Single(reader.ReadRequests().ToList());
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
        Assert.True(reader.IsTruncated);
    }

    [Fact]
    public void OverlongVarintIsACorruptFile()
    {
        var bytes = WriteCapture([], SampleTrailer);
        var headerEnd = CaptureFormat.PreambleLength + DelimitedSize(new CaptureRecord { Header = SampleHeader() });
        var corrupt = bytes[..headerEnd].Concat(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }).ToArray();
        using var reader = new CaptureReader(new MemoryStream(corrupt));
        var error = Assert.Throws<CaptureFormatException>(() => reader.TryReadRequest(out _));
        Assert.Contains("Malformed record length", error.Message);
    }

    [Fact]
    public void RecordThatDoesNotParseIsACorruptFile()
    {
        var bytes = WriteCapture([], SampleTrailer);
        var headerEnd = CaptureFormat.PreambleLength + DelimitedSize(new CaptureRecord { Header = SampleHeader() });
        // Length 3, then field 2 (request) as a length-delimited field claiming 100 bytes.
        var corrupt = bytes[..headerEnd].Concat(new byte[] { 0x03, 0x12, 0x64, 0x00 }).ToArray();
        using var reader = new CaptureReader(new MemoryStream(corrupt));
        var error = Assert.Throws<CaptureFormatException>(() => reader.TryReadRequest(out _));
        Assert.Contains("does not parse", error.Message);
        Assert.IsType<InvalidProtocolBufferException>(error.InnerException);
    }

    [Fact]
    public void RejectsOtherFilesAndVersions()
    {
        var notCapture = Assert.Throws<CaptureFormatException>(() => new CaptureReader(new MemoryStream("{\"pid\":1}\n"u8.ToArray())));
        Assert.Contains("Not a Sonde capture", notCapture.Message);
        Assert.False(notCapture.IsTruncation);

        var bytes = WriteCapture([], SampleTrailer);
        bytes[8] = 2;
        var version = Assert.Throws<CaptureFormatException>(() => new CaptureReader(new MemoryStream(bytes)));
        Assert.Contains("version 2 is not supported", version.Message);

        var empty = Assert.Throws<CaptureFormatException>(() => new CaptureReader(new MemoryStream()));
        Assert.True(empty.IsTruncation);
    }

    [Fact]
    public void FirstRecordMustBeTheHeader()
    {
        var output = new MemoryStream();
        output.Write("SONDECAP"u8);
        output.Write([1, 0, 0, 0]);
        new CaptureRecord { Trailer = SampleTrailer }.WriteDelimitedTo(output);
        var error = Assert.Throws<CaptureFormatException>(() => new CaptureReader(new MemoryStream(output.ToArray())));
        Assert.Contains("not the header", error.Message);
    }

    [Fact]
    public void SkipsRecordKindsItDoesNotKnow()
    {
        var output = new MemoryStream();
        output.Write("SONDECAP"u8);
        output.Write([1, 0, 0, 0]);
        new CaptureRecord { Header = SampleHeader() }.WriteDelimitedTo(output);
        output.Write([0x00]); // an empty record
        output.Write([0x03, 0xA2, 0x06, 0x00]); // a record with only field 100 (a later kind), empty
        new CaptureRecord { Request = new CapturedRequest { Pid = 9 } }.WriteDelimitedTo(output);
        var (reader, read, error) = ReadAll(new MemoryStream(output.ToArray()));
        Assert.Null(error);
        Assert.Equal(9, Assert.Single(read).Pid);
        Assert.True(reader!.IsTruncated);
    }

    [Fact]
    public void RandomCorruptionNeverEscapesAsAnotherException()
    {
        var bytes = WriteCapture(SampleRequests(20), SampleTrailer);
        var random = new Random(12345);
        for (var i = 0; i < 3_000; i++)
        {
            var corrupt = (byte[])bytes.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
                corrupt[random.Next(corrupt.Length)] = (byte)random.Next(256);
            var (reader, _, error) = ReadAll(new MemoryStream(corrupt[..random.Next(corrupt.Length + 1)]));
            Assert.True(reader is not null || error is not null);
        }
    }

    [Fact]
    public void CompleteWritesATrailerWithTheCountsAndNow()
    {
        var output = new MemoryStream();
        var header = CaptureHeader.ForCurrentProcess([new TargetInfo(1, "/bin/x", "go1.22.0")], ["sonde", "trace"]);
        using (var writer = new CaptureWriter(output, header, leaveOpen: true))
        {
            foreach (var r in SampleRequests(3)) writer.Write(r.View);
            Assert.Equal(3, writer.RequestCount);
            writer.Complete(dropCount: 42);
            Assert.Throws<InvalidOperationException>(() => writer.Write(SampleRequests(1)[0].View));
        }
        output.Position = 0;
        using var reader = new CaptureReader(output);
        Assert.Equal(3, reader.ReadRequests().Count());
        var trailer = reader.Trailer!;
        Assert.Equal(42UL, trailer.DropCount);
        Assert.Equal(3UL, trailer.RequestCount);
        Assert.True(trailer.EndMonotonicNs >= reader.Header.StartMonotonicNs);
        Assert.True(trailer.EndTimeUnixNs >= reader.Header.StartTimeUnixNs);
    }

    [Fact]
    public void HeaderForCurrentProcessSaysWhoWhereAndWhen()
    {
        var before = DateTimeOffset.UtcNow;
        var header = CaptureHeader.ForCurrentProcess([new TargetInfo(7, "/srv/app", "go1.21.1")], ["sonde", "trace", "--pid", "7"]);
        Assert.False(string.IsNullOrEmpty(header.SondeVersion));
        Assert.Equal(Environment.MachineName, header.HostName);
        Assert.InRange(header.StartTime, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(7, Assert.Single(header.Targets).Pid);
        Assert.Equal(["sonde", "trace", "--pid", "7"], header.CommandLine);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int clock_gettime(int clockId, out Timespec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [Fact]
    public void MonotonicClockIsClockMonotonic()
    {
        const int ClockMonotonic = 1;
        Assert.Equal(0, clock_gettime(ClockMonotonic, out var before));
        var ours = MonotonicClock.NowNs();
        Assert.Equal(0, clock_gettime(ClockMonotonic, out var after));
        Assert.InRange(ours, (ulong)(before.Seconds * 1_000_000_000 + before.Nanoseconds),
            (ulong)(after.Seconds * 1_000_000_000 + after.Nanoseconds));
    }

    [Fact]
    public void WriterAllocatesLittlePerRequest()
    {
        using var writer = new CaptureWriter(Stream.Null, SampleHeader());
        var method = "GET"u8.ToArray();
        var path = "/users/42"u8.ToArray();
        var route = "/users/:id"u8.ToArray();
        for (var i = 0; i < 1_000; i++) writer.Write(new RequestView(1, 2, i, (ulong)i, 1000, 200, method, path, route));
        var before = GC.GetAllocatedBytesForCurrentThread();
        const int N = 100_000;
        for (var i = 0; i < N; i++) writer.Write(new RequestView(1, 2, i, (ulong)i, 1000, 200, method, path, route));
        var perRequest = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)N;
        Assert.True(perRequest <= 128, $"{perRequest} bytes per request");
    }
}
