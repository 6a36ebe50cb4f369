using System.Net;

namespace Sonde.Tests.Support;

/// <summary>
/// Sends an exact list of requests with a fixed number of concurrent
/// keep-alive connections, and records what came back.
/// </summary>
public static class LoadClient
{
    public sealed record Result(string Method, string Path, int Status, Version Version);

    /// <summary>
    /// HTTP/1.1 by default. With <paramref name="http2"/>, HTTP/2 only: over TLS by
    /// ALPN for an https URL (any certificate accepted: the test servers' are
    /// self-signed), or cleartext with prior knowledge (h2c) for an http one;
    /// requests are multiplexed on one connection.
    /// </summary>
    public static async Task<IReadOnlyList<Result>> SendAsync(string baseUrl, IReadOnlyList<(string Method, string Path)> requests, int concurrency, bool http2 = false)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        using var client = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var results = new Result[requests.Count];
        int next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests.Count)
            {
                var (m, p) = requests[i];
                using var msg = new HttpRequestMessage(new HttpMethod(m), p)
                {
                    Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                };
                using var resp = await client.SendAsync(msg);
                await resp.Content.ReadAsByteArrayAsync();
                results[i] = new Result(m, p, (int)resp.StatusCode, resp.Version);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
        return results;
    }
}
