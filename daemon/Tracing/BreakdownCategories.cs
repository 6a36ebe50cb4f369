using System.Text;

namespace Sonde.Tracing;

/// <summary>
/// Where a request's time went: enum sonde_category of bpf/http.h, in order,
/// with the names the JSON record uses, and how Go's wait reasons map onto them.
/// </summary>
public static class BreakdownCategories
{
    public const int Count = 10;
    /// <summary>
    /// Stolen came last, after the others: a capture made before it holds 9
    /// values, which read the same with stolen 0.
    /// </summary>
    public const int OnCpu = 0, Runnable = 1, NetIo = 2, Syscall = 3, Lock = 4, Chan = 5, Sleep = 6, Gc = 7, Other = 8, Stolen = 9;

    public static readonly string[] Names = ["on_cpu", "runnable", "net_io", "syscall", "lock", "chan", "sleep", "gc", "other", "stolen"];

    /// <summary>UTF-8 names, for writers that don't allocate.</summary>
    public static readonly byte[][] Utf8Names = Names.Select(n => Encoding.UTF8.GetBytes(n)).ToArray();

    /// <summary>
    /// The category of a runtime.waitReason string (src/runtime/runtime2.go,
    /// waitReasonStrings): the network poller is net_io; mutexes, semaphores
    /// and condition variables are lock; channels and select are chan;
    /// time.Sleep and timers are sleep; GC assists and GC waits are gc.
    /// </summary>
    public static int OfWaitReason(string reason) => reason switch
    {
        "IO wait" => NetIo,
        "chan receive" or "chan send" or "chan receive (nil chan)" or "chan send (nil chan)" or "select" or "select (no cases)" => Chan,
        "semacquire" or "sync.Mutex.Lock" or "sync.RWMutex.RLock" or "sync.RWMutex.Lock" or "sync.Cond.Wait" or "sync.WaitGroup.Wait" => Lock,
        "sleep" or "timer goroutine (idle)" => Sleep,
        _ when reason.StartsWith("GC", StringComparison.Ordinal) || reason.Contains("garbage collection", StringComparison.Ordinal)
            || reason == "wait for GC cycle" || reason == "force gc (idle)" => Gc,
        _ => Other,
    };
}
