// h2load MODE TARGET N: N requests one after another on one connection (MODE
// h1: HTTP/1.1 GET TARGET; h2: HTTP/2 GET TARGET over TLS, any certificate;
// h2c: HTTP/2 GET TARGET cleartext; grpc: health checks to port TARGET), after
// N/10 to warm up; prints the mean round trip in microseconds and the requests made.
using System.Diagnostics;
using System.Net;
using Sonde.Tests.Support;

if (args.Length != 3 || !int.TryParse(args[2], out int n) || n < 10)
{
    Console.Error.WriteLine("usage: h2load h1|h2|h2c|grpc URL|PORT N (N >= 10)");
    return 2;
}
Func<Task> one;
IDisposable owner;
if (args[0] == "grpc")
{
    var c = new GrpcHealthClient(int.Parse(args[1]));
    owner = c;
    one = async () => { if ((await c.CheckAsync("")).GrpcStatus != 0) throw new InvalidOperationException("not OK"); };
}
else
{
    var http = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } });
    owner = http;
    var version = args[0] == "h1" ? HttpVersion.Version11 : HttpVersion.Version20;
    one = async () =>
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, args[1]) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var resp = await http.SendAsync(req);
        await resp.Content.ReadAsByteArrayAsync();
        if (resp.Version != version || !resp.IsSuccessStatusCode) throw new InvalidOperationException($"HTTP/{resp.Version} {(int)resp.StatusCode}");
    };
}
using (owner)
{
    for (int i = 0; i < n / 10; i++) await one();
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < n; i++) await one();
    Console.WriteLine($"{sw.Elapsed.TotalMicroseconds / n:0.0} {n}");
}
return 0;
