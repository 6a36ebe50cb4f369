using System.Net;

namespace Sonde.Tests.Support;

/// <summary>
/// Sends an exact list of requests with a fixed number of concurrent
/// keep-alive connections, and records what came back.
/// </summary>
public static class LoadClient
{
    public sealed record Result(string Method, string Path, int Status);

    public static async Task<IReadOnlyList<Result>> SendAsync(string baseUrl, IReadOnlyList<(string Method, string Path)> requests, int concurrency)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var results = new Result[requests.Count];
        int next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests.Count)
            {
                var (m, p) = requests[i];
                using var msg = new HttpRequestMessage(new HttpMethod(m), p) { Version = HttpVersion.Version11 };
                using var resp = await client.SendAsync(msg);
                await resp.Content.ReadAsByteArrayAsync();
                results[i] = new Result(m, p, (int)resp.StatusCode);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
        return results;
    }
}
