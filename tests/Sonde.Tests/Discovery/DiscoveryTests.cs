using System.Collections.Concurrent;
using System.Diagnostics;
using Sonde.Discovery;
using Sonde.Tests.Support;

namespace Sonde.Tests.Discovery;

/// <summary>What `sonde run` learns about processes: /proc facts and exec/exit events.</summary>
[Collection(KernelCollection.Name)]
public sealed class DiscoveryTests
{
    [Fact]
    public void Facts_of_a_running_Go_server()
    {
        using var srv = GoServer.Start("nethttp");
        Assert.Equal("nethttp", ProcessFacts.Comm(srv.Pid));
        Assert.Contains(srv.Port, ProcessFacts.ListeningPorts(srv.Pid));
        Assert.DoesNotContain(srv.Port, ProcessFacts.ListeningPorts(Environment.ProcessId));
        Assert.Null(ProcessFacts.Comm(999_999_999));
        Assert.Empty(ProcessFacts.ListeningPorts(999_999_999));
    }

    [RootFact]
    public async Task Exec_and_exit_of_a_process_are_seen()
    {
        using var events = new ProcessEvents();
        var seen = new ConcurrentQueue<(ProcessEventKind, int)>();
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(() => events.RunAsync((k, p) => seen.Enqueue((k, p)), stop.Token));
        await Task.Delay(100);
        using var p = Process.Start("sleep", "0.2")!;
        int pid = p.Id;
        await p.WaitForExitAsync();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline && !seen.Contains((ProcessEventKind.Exit, pid))) await Task.Delay(20);
        stop.Cancel();
        await loop;
        Assert.Contains((ProcessEventKind.Exec, pid), seen);
        Assert.Contains((ProcessEventKind.Exit, pid), seen);
        Assert.Equal(0UL, events.Drops);
    }
}
