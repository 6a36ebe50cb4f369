using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Sonde.Tests.Support;

/// <summary>
/// A unary gRPC client for grpc.health.v1.Health/Check over cleartext HTTP/2
/// (prior knowledge), on HttpClient: gRPC over HTTP/2 as its PROTOCOL-HTTP2
/// document (grpc/grpc doc/PROTOCOL-HTTP2.md) lays it out. The request is a POST
/// to /grpc.health.v1.Health/Check, content-type application/grpc, "te: trailers",
/// with one length-prefixed message (a 0 byte, a 4-byte big-endian length, the
/// protobuf HealthCheckRequest: field 1, service, a string). The status is the
/// grpc-status trailer (or header, for a trailers-only answer).
/// </summary>
public sealed class GrpcHealthClient : IDisposable
{
    public const string CheckMethod = "/grpc.health.v1.Health/Check";
    private readonly HttpClient _http;
    private readonly string _url;

    public GrpcHealthClient(int port)
    {
        _http = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = false }) { Timeout = TimeSpan.FromSeconds(10) };
        _url = $"http://127.0.0.1:{port}{CheckMethod}";
    }

    /// <summary>Checks <paramref name="service"/>; returns the call's gRPC status code and HTTP status.</summary>
    public async Task<(int GrpcStatus, int HttpStatus)> CheckAsync(string service)
    {
        byte[] name = Encoding.UTF8.GetBytes(service);
        if (name.Length > 127) throw new ArgumentException("a service name of at most 127 bytes (one-byte length)", nameof(service));
        // HealthCheckRequest { string service = 1; }: tag (1 << 3 | 2), length, bytes; nothing for "".
        byte[] message = name.Length == 0 ? [] : [0x0A, (byte)name.Length, .. name];
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, _url)
        {
            Content = new ByteArrayContent(frame),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,   // cleartext: prior knowledge
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await response.Content.ReadAsByteArrayAsync();   // the body, then the trailers
        string? status = response.TrailingHeaders.TryGetValues("grpc-status", out var t) ? t.First()
            : response.Headers.TryGetValues("grpc-status", out var h) ? h.First() : null;
        if (status is null || !int.TryParse(status, out int code))
            throw new InvalidOperationException($"{CheckMethod} answered HTTP {(int)response.StatusCode} without a grpc-status");
        return (code, (int)response.StatusCode);
    }

    public void Dispose() => _http.Dispose();
}
