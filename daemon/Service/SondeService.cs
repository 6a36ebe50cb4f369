using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Sonde.Config;
using Sonde.Hosting;
using Sonde.Metrics;
using Sonde.Tracing;

namespace Sonde.Service;

/// <summary>
/// What `sonde run` hosts: the tracing pipeline feeding request histograms,
/// the Prometheus endpoint that serves them and, when configured, the OTLP
/// push. Ready (READY=1) only once the endpoint listens and the current
/// targets are attached.
/// </summary>
public sealed partial class SondeService : ISondePipeline, IServiceRequestSink
{
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly MetricsRegistry _registry = new();
    private readonly HttpServerMetrics _http;
    private readonly SelfMetrics _self;
    private readonly TracingPipeline _pipeline;
    private WebApplication? _endpoint;
    private OtlpMetricsExporter? _otlp;
    private SondeConfig _config = new();

    public SondeService(SondeConfig config, ILoggerFactory loggers)
    {
        _loggers = loggers;
        _log = loggers.CreateLogger("Sonde.Service");
        _http = new HttpServerMetrics(_registry, new HttpServerMetricsOptions
        {
            MaxRoutesPerService = config.Metrics.MaxRoutesPerService,
            MaxPeersPerService = config.Metrics.MaxPeersPerService,
        });
        _self = new SelfMetrics(_registry);
        _pipeline = new TracingPipeline(this, loggers) { AttachFailed = reason => _self.ProbeAttachFailed(reason) };
        _registry.AddRefresh(RefreshSelfMetrics);
    }

    public MetricsRegistry Registry => _registry;

    /// <summary>See <see cref="TracingPipeline.BatchEnded"/>.</summary>
    public Action? BatchEnded { get => _pipeline.BatchEnded; init => _pipeline.BatchEnded = value; }
    public string Status => _pipeline.Status;
    public long Heartbeat => _pipeline.Heartbeat;

    public void OnRequest(string service, in RequestView request) => _http.Record(service, request);

    public async Task StartAsync(SondeConfig config, CancellationToken ct)
    {
        _config = config;
        string url = config.Metrics.Url;
        _endpoint = MetricsEndpoint.Build(_registry, url, config.Metrics.Path);
        try { await _endpoint.StartAsync(ct); }
        catch (IOException e)
        {
            throw new TraceException($"metrics.listen {config.Metrics.Listen}: cannot listen: {e.Message}", e);
        }
        LogListening(_log, url + config.Metrics.Path);
        await _pipeline.StartAsync(config, ct);
        StartOtlp(config);
    }

    public async Task ReloadAsync(SondeConfig config, CancellationToken ct)
    {
        if (config.Metrics != _config.Metrics) LogMetricsNeedRestart(_log);
        await _pipeline.ReloadAsync(config, ct);
        if (config.Otlp != _config.Otlp)
        {
            if (_otlp is not null) { await _otlp.StopAsync(ct); await _otlp.DisposeAsync(); _otlp = null; }
            StartOtlp(config);
        }
        _config = config with { Metrics = _config.Metrics, Tracing = _config.Tracing };
    }

    public async Task StopAsync(CancellationToken ct)
    {
        await _pipeline.StopAsync(ct);
        if (_otlp is not null) { await _otlp.StopAsync(ct); await _otlp.DisposeAsync(); }
        if (_endpoint is not null) { await _endpoint.StopAsync(ct); await _endpoint.DisposeAsync(); }
    }

    private void StartOtlp(SondeConfig config)
    {
        if (!config.Otlp.Enabled || config.Otlp.Endpoint is null) return;
        _otlp = new OtlpMetricsExporter(_registry, new OtlpExporterOptions
        {
            Endpoint = config.Otlp.Endpoint,
            Interval = config.Otlp.Interval,
            Timeout = config.Otlp.Timeout,
            Headers = config.Otlp.Headers,
        }, _loggers.CreateLogger("Sonde.Otlp"));
        _otlp.Start();
    }

    private void RefreshSelfMetrics()
    {
        var (processes, _, probes) = _pipeline.Counts;
        _self.Targets.Set(processes);
        _self.ProbesAttached.Set(probes);
        if (_pipeline.Stats is { } stats) _self.SetTracerStats(stats);
        if (_pipeline.Tracer is { } tracer)
        {
            _self.RingBufferFillRatio.Set(tracer.RingBufferFill);
            if (BpfProgramStats.StatsEnabled)
                foreach (var name in tracer.StatsPrograms)
                    if (tracer.ProgramFd(name) is var fd and >= 0)   // the breakdown's are not loaded when it is off
                        _self.SetBpfProgramStats(name, BpfProgramStats.Read(fd));
        }
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "metrics at {Url}")]
    private static partial void LogListening(ILogger log, string url);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "the metrics section changed: it takes effect at the next restart")]
    private static partial void LogMetricsNeedRestart(ILogger log);
}
