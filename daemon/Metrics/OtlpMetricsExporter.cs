using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sonde.Metrics.Proto.Otlp;

namespace Sonde.Metrics;

/// <summary>
/// Pushes the registry over OTLP/HTTP with protobuf bodies
/// (<c>POST {endpoint}/v1/metrics</c>, <c>Content-Type: application/x-protobuf</c>)
/// on its own timer, and counts the outcomes in
/// <c>sonde_otlp_exports_total{result}</c> (<c>success</c>,
/// <c>retryable_failure</c>, <c>permanent_failure</c>, and <c>cancelled</c>: an
/// attempt a stop cut short, whose answer, if any came, was not waited for).
/// </summary>
/// <remarks>
/// <para>
/// Nothing here touches the recording thread: an export reads the registry
/// like a scrape does (<see cref="MetricsRegistry.Collect"/>) on a thread-pool
/// thread, and every series is cumulative, so an export that fails loses
/// nothing: the next one that gets through carries every observation since
/// the start.
/// </para>
/// <para>
/// Failures follow opentelemetry-proto's docs/specification.md ("Failures",
/// "OTLP/HTTP Throttling"): 429, 502, 503 and 504, a connection failure and
/// a timeout are retried, after <c>Retry-After</c> when the server sent one
/// (seconds or an HTTP date), otherwise after an exponential backoff with
/// jitter (<see cref="OtlpExporterOptions.InitialBackoff"/> doubling up to
/// <see cref="OtlpExporterOptions.MaxBackoff"/>, each delay drawn from its
/// upper half); every other 4xx and 5xx is not retried and the exporter
/// waits for the next interval. A retry sends a fresh snapshot, not the
/// failed request: cumulative counts make the newest one the best.
/// </para>
/// </remarks>
public sealed class OtlpMetricsExporter : IAsyncDisposable
{
    private const string MetricsPath = "/v1/metrics";

    private readonly MetricsRegistry _registry;
    private readonly OtlpExporterOptions _options;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly CounterSeries _successes, _retryableFailures, _permanentFailures, _cancelled, _rejectedPoints;
    private readonly object _lock = new();
    private CancellationTokenSource? _stop;
    private Task? _loop;
    private int _consecutiveFailures;

    public OtlpMetricsExporter(MetricsRegistry registry, OtlpExporterOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoint.Scheme is not ("http" or "https")) throw new ArgumentException($"OTLP endpoint {options.Endpoint} must be http or https", nameof(options));
        if (options.Interval <= TimeSpan.Zero || options.Timeout <= TimeSpan.Zero || options.InitialBackoff <= TimeSpan.Zero || options.MaxBackoff < options.InitialBackoff)
            throw new ArgumentException("OTLP interval, timeout and backoffs must be positive, MaxBackoff at least InitialBackoff", nameof(options));
        _registry = registry;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        ExportUri = MetricsUri(options.Endpoint);
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = options.Timeout,
            PooledConnectionIdleTimeout = options.Interval + options.Interval,
        }) { Timeout = Timeout.InfiniteTimeSpan };

        var exports = registry.AddCounter("sonde_otlp_exports", "OTLP metric export attempts, by result.", ["result"]);
        _successes = exports.WithLabels("success");
        _retryableFailures = exports.WithLabels("retryable_failure");
        _permanentFailures = exports.WithLabels("permanent_failure");
        _cancelled = exports.WithLabels("cancelled");
        _rejectedPoints = registry.AddCounter("sonde_otlp_rejected_data_points",
            "Data points an OTLP collector reported as rejected in a partial success.").WithLabels();
    }

    /// <summary>Where exports are posted.</summary>
    public Uri ExportUri { get; }

    /// <summary>Starts the export timer; the first export is one interval from now.</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_loop is not null) throw new InvalidOperationException("the OTLP exporter is already started");
            _stop = new CancellationTokenSource();
            var stop = _stop.Token;
            _loop = Task.Run(() => RunAsync(stop), CancellationToken.None);
        }
    }

    /// <summary>
    /// Stops the timer, interrupting a retry wait or an export in flight, then
    /// (unless <see cref="OtlpExporterOptions.ExportOnStop"/> is off) makes one
    /// last export bounded by the timeout and by <paramref name="ct"/>.
    /// </summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        Task? loop;
        lock (_lock)
        {
            loop = _loop;
            _stop?.Cancel();
        }
        if (loop is null) return;
        await loop.ConfigureAwait(false);
        if (_options.ExportOnStop) await ExportOnceAsync(ct).ConfigureAwait(false);
        lock (_lock)
        {
            _stop?.Dispose();
            _stop = null;
            _loop = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _http.Dispose();
    }

    /// <summary>
    /// Collects and posts once, now. Never throws for a failed export: the
    /// outcome is counted, logged and returned.
    /// </summary>
    internal async Task<OtlpExportOutcome> ExportOnceAsync(CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_options.Timeout);
        OtlpExportOutcome outcome;
        try
        {
            byte[] body = OtlpRequestBuilder.Build(_registry.Collect(), _options).ToByteArray();
            using var request = new HttpRequestMessage(HttpMethod.Post, ExportUri) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            foreach (var (name, value) in _options.Headers) request.Headers.TryAddWithoutValidation(name, value);
            using var response = await _http.SendAsync(request, deadline.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                await CountRejectedAsync(response, deadline.Token).ConfigureAwait(false);
                outcome = OtlpExportOutcome.Success;
            }
            else if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway
                     or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)
                outcome = OtlpExportOutcome.Retryable($"HTTP {(int)response.StatusCode}", RetryAfter(response.Headers.RetryAfter));
            else
                outcome = OtlpExportOutcome.Permanent($"HTTP {(int)response.StatusCode}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            outcome = OtlpExportOutcome.Retryable($"no answer within {_options.Timeout.TotalSeconds:0.###} s", null);
        }
        catch (OperationCanceledException)
        {
            // Stopped mid-export: the collector may have had it, or not. Counted, so that
            // every attempt is somewhere in sonde_otlp_exports_total.
            _cancelled.Increment();
            return OtlpExportOutcome.Cancelled;
        }
        catch (HttpRequestException e)
        {
            outcome = OtlpExportOutcome.Retryable(e.HttpRequestError.ToString() + ": " + e.Message, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Anything else (a header the client refuses, a bug) must not end
            // the export loop; it is retried and shows up in the log.
            outcome = OtlpExportOutcome.Retryable(e.GetType().Name + ": " + e.Message, null);
        }

        switch (outcome.Kind)
        {
            case OtlpExportOutcome.Result.Success:
                _successes.Increment();
                if (_consecutiveFailures > 0) _logger.OtlpExportRecovered(ExportUri, _consecutiveFailures);
                _consecutiveFailures = 0;
                break;
            case OtlpExportOutcome.Result.Retryable:
                _retryableFailures.Increment();
                _consecutiveFailures++;
                break;
            default:
                _permanentFailures.Increment();
                _consecutiveFailures++;
                _logger.OtlpExportRefused(ExportUri, outcome.Reason);
                break;
        }
        return outcome;
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var time = _registry.Time;
        var due = time.GetUtcNow() + _options.Interval;
        int retries = 0;
        while (!stop.IsCancellationRequested)
        {
            var wait = due - time.GetUtcNow();
            try
            {
                if (wait > TimeSpan.Zero) await Task.Delay(wait, time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { break; }

            var outcome = await ExportOnceAsync(stop).ConfigureAwait(false);
            if (stop.IsCancellationRequested) break;
            var now = time.GetUtcNow();
            if (outcome.Kind == OtlpExportOutcome.Result.Retryable)
            {
                retries++;
                var delay = outcome.RetryAfter ?? Backoff(retries);
                _logger.OtlpExportRetrying(ExportUri, outcome.Reason, delay);
                due = now + delay;
            }
            else
            {
                retries = 0;
                due += _options.Interval;
                if (due <= now) due = now + _options.Interval;
            }
        }
    }

    /// <summary>InitialBackoff · 2^(n−1), capped at MaxBackoff, then a random point of its upper half.</summary>
    internal TimeSpan Backoff(int failures)
    {
        double ceiling = Math.Min(_options.MaxBackoff.TotalMilliseconds,
            _options.InitialBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30)));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + 0.5 * Random.Shared.NextDouble()));
    }

    private TimeSpan? RetryAfter(RetryConditionHeaderValue? header)
    {
        TimeSpan? delay = header switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - _registry.Time.GetUtcNow(),
            _ => null,
        };
        if (delay is null) return null;
        if (delay < TimeSpan.Zero) return TimeSpan.Zero;
        return delay > _options.MaxRetryAfter ? _options.MaxRetryAfter : delay;
    }

    private async Task CountRejectedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        byte[] bytes = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        if (bytes.Length == 0 || response.Content.Headers.ContentType?.MediaType != "application/x-protobuf") return;
        try
        {
            var answer = ExportMetricsServiceResponse.Parser.ParseFrom(bytes);
            if (answer.PartialSuccess is { RejectedDataPoints: > 0 } partial)
            {
                _rejectedPoints.Add(partial.RejectedDataPoints);
                _logger.OtlpPartialSuccess(ExportUri, partial.RejectedDataPoints, partial.ErrorMessage);
            }
        }
        catch (InvalidProtocolBufferException) { /* a success whose body we cannot read is still a success */ }
    }

    private static Uri MetricsUri(Uri endpoint)
    {
        string path = endpoint.AbsolutePath.TrimEnd('/');
        if (path.EndsWith(MetricsPath, StringComparison.Ordinal)) return endpoint;
        return new UriBuilder(endpoint) { Path = path + MetricsPath }.Uri;
    }
}
