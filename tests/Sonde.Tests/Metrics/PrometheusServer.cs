using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Sonde.Tests.Support;

namespace Sonde.Tests.Metrics;

/// <summary>
/// Debian's <c>prometheus</c> server run for one test: its own temp config
/// (one job scraping a loopback target every second), storage in a temp
/// directory, its web API on a free loopback port. Dispose kills it and
/// deletes the directory.
/// </summary>
public sealed class PrometheusServer : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private readonly HttpClient _http;
    private readonly StringBuilder _log = new();

    private PrometheusServer(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    public static async Task<PrometheusServer> StartAsync(int targetPort, bool nativeHistograms)
    {
        string binary = Tools.Require("prometheus");
        string dir = Directory.CreateTempSubdirectory("sonde-prometheus-").FullName;
        string config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: sonde
                metrics_path: /metrics
                static_configs:
                  - targets: ['127.0.0.1:{targetPort}']
            """);
        int port = FreePort.Next();
        var psi = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("--config.file=" + config);
        psi.ArgumentList.Add("--storage.tsdb.path=" + Path.Combine(dir, "data"));
        psi.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port}");
        if (nativeHistograms) psi.ArgumentList.Add("--enable-feature=native-histograms");
        var process = new Process { StartInfo = psi };
        var server = new PrometheusServer(process, dir, port);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (server._log) server._log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (server._log) server._log.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"prometheus exited with {process.ExitCode}:\n{server.Log}");
            try
            {
                using var ready = await server._http.GetAsync("/-/ready");
                if (ready.IsSuccessStatusCode) return server;
            }
            catch (HttpRequestException) { }
            if (sw.Elapsed > TimeSpan.FromSeconds(20)) { server.Dispose(); throw new TimeoutException("prometheus did not get ready:\n" + server.Log); }
            await Task.Delay(100);
        }
    }

    /// <summary>An instant query; the first result's value, or null when the result is empty.</summary>
    public async Task<double?> ScalarAsync(string promql)
    {
        var result = await QueryAsync(promql);
        if (result.GetArrayLength() == 0) return null;
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }

    /// <summary>An instant query's <c>data.result</c> array.</summary>
    public async Task<JsonElement> QueryAsync(string promql)
    {
        using var doc = await _http.GetFromJsonAsync<JsonDocument>("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        var root = doc!.RootElement;
        if (root.GetProperty("status").GetString() != "success") throw new InvalidOperationException($"query {promql} failed: {root}");
        return root.GetProperty("data").GetProperty("result").Clone();
    }

    /// <summary>Polls <paramref name="promql"/> until it equals <paramref name="expected"/>.</summary>
    public async Task WaitForAsync(string promql, double expected, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        double? last = null;
        while (sw.Elapsed < timeout)
        {
            last = await ScalarAsync(promql);
            if (last == expected) return;
            await Task.Delay(200);
        }
        var targets = await _http.GetStringAsync("/api/v1/targets");
        throw new TimeoutException($"{promql} was {last?.ToString(CultureInfo.InvariantCulture) ?? "empty"}, not {expected}, after {timeout}; targets: {targets}\n{Log}");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                Posix.Kill(_process.Id, Posix.SIGTERM);
                if (!_process.WaitForExit(5_000)) _process.Kill();
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        _http.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
