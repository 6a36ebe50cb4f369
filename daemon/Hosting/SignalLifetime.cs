using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Sonde.Hosting;

/// <summary>
/// The host's lifetime for `sonde run`, in place of ConsoleLifetime: SIGTERM
/// (systemctl stop), SIGINT and SIGQUIT stop the host gracefully; SIGHUP
/// (systemctl reload, via ExecReload=kill -HUP) asks
/// <see cref="PipelineHost"/> for a reload. The default action of each
/// signal (terminate) is cancelled.
/// </summary>
public sealed class SignalLifetime(IHostApplicationLifetime application, PipelineHost pipelineHost, ILogger<SignalLifetime> log)
    : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = new();

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Stop));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, Reload));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        log.SignalReceived(context.Signal.ToString(), "stopping");
        application.StopApplication();
    }

    private void Reload(PosixSignalContext context)
    {
        context.Cancel = true;
        log.SignalReceived(context.Signal.ToString(), "reloading the configuration");
        pipelineHost.RequestReload();
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _registrations.Clear();
    }
}
