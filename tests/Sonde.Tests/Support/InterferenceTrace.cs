using System.Diagnostics;
using System.Globalization;

namespace Sonde.Tests.Support;

/// <summary>
/// The kernel's own record of when a process's threads were kept from running
/// their own code, and for how long: switched out (sched_switch, until the
/// thread is switched back in), or with its CPU serving an interrupt in its
/// context (softirq and hardirq handlers, which
/// this kernel doesn't account separately). A bpftrace script, independent of
/// Sonde. It is the truth for time a handler cannot see itself, e.g. a thread
/// preempted between Sonde's probe at a request's start and the handler's
/// first clock read. Its clock (bpf_ktime_get_ns) is CLOCK_MONOTONIC, like
/// Sonde's and the test servers'. Time the hypervisor steals from a vCPU is
/// in no record the guest keeps per thread.
/// </summary>
public sealed class InterferenceTrace : IDisposable
{
    // Every switch out counts, whatever prev_state says: where a test asks, the
    // code has no reason to sleep (a preempted thread is TASK_REPORT_MAX, one that
    // yielded TASK_RUNNING, one that waits for a kernel lock or a page fault
    // TASK_UNINTERRUPTIBLE). A hardirq that interrupts a softirq handler is inside
    // the softirq's interval already. A thread of this process named MarkThread
    // switching out prints "mark CPU": everything that CPU recorded before is in the
    // output before it (bpftrace's perf buffers are per CPU and read in order). END
    // clears the maps, which bpftrace would otherwise print. Each probe reads the
    // clock once: its reads microseconds apart would leave gaps between intervals.
    //
    // Lines: "o TID OUT WOKEN IN STATE": switched out at OUT in STATE (prev_state:
    // 0, TASK_RUNNING, when preempted or yielding; else asleep), woken at WOKEN (0:
    // not seen: preempted, or a wake-up whose probe the kernel skipped, as it skips
    // tracepoint programs while another tracing program runs on that CPU, e.g. an
    // interrupt's wake-up during a uprobe's program), in again at IN; "i TID FROM TO":
    // its CPU served an interrupt. With detail, also "s TID NR FROM TO": a
    // syscall, sys_enter to sys_exit; and "v TID IN OUT STEAL EXEC": on a CPU from
    // IN to OUT, during which the hypervisor stole STEAL ns of that CPU that the
    // scheduler left out of the thread's CPU time: the smaller of what its steal
    // clock (rq->prev_steal_time_rq) and what its run queue's clock less the task
    // clock (rq->clock - rq->clock_task, clock_task read first, the smaller of two reads:
    // another CPU may be updating the two) grew, both current at every switch
    // (__schedule updates the run queue's clock first; update_rq_clock_task takes
    // a steal clock's step larger than the clock's out of no one's CPU time, yet
    // moves prev_steal_time_rq past it, so that clock alone overstates it), and the scheduler charged
    // the thread EXEC ns (se.sum_exec_runtime, its CPU clock: it doesn't move
    // while the thread is off CPU, so the change from one switch-out to the next;
    // -1 for a thread's first stint, whose start the script didn't see).
    private const string Script = """
        BEGIN { printf("ready\n"); }
        tracepoint:sched:sched_switch
        {
          $now = nsecs;
          if (pid == $1) { @off[args->prev_pid] = $now; @st[args->prev_pid] = args->prev_state; }
          if (pid == $2 && args->prev_comm == "sonde-itmark") { printf("mark %d\n", cpu); }
          $t = @off[args->next_pid];
          if ($t != 0) { printf("o %d %llu %llu %llu %lld\n", args->next_pid, $t, @woken[args->next_pid], $now, @st[args->next_pid]); delete(@off[args->next_pid]); delete(@woken[args->next_pid]); delete(@st[args->next_pid]); }
        DETAIL_SWITCH
        }
        tracepoint:sched:sched_wakeup /@off[args->pid] != 0/ { @woken[args->pid] = nsecs; }
        tracepoint:irq:softirq_entry /pid == $1/ { @si[cpu] = nsecs; }
        tracepoint:irq:softirq_exit /pid == $1 && @si[cpu] != 0/ { printf("i %d %llu %llu\n", tid, @si[cpu], nsecs); delete(@si[cpu]); }
        tracepoint:irq:irq_handler_entry /pid == $1 && @si[cpu] == 0/ { @hi[cpu] = nsecs; }
        tracepoint:irq:irq_handler_exit /pid == $1 && @hi[cpu] != 0/ { printf("i %d %llu %llu\n", tid, @hi[cpu], nsecs); delete(@hi[cpu]); }
        DETAIL
        END { clear(@off); clear(@woken); clear(@st); clear(@si); clear(@hi); DETAIL_END }
        """;

    private const string DetailSwitch = """
          $rq = curtask->se.cfs_rq->rq;
          $steal = $rq->prev_steal_time_rq;
          $t1 = $rq->clock_task; $c1 = $rq->clock; $t2 = $rq->clock_task; $c2 = $rq->clock;
          $gap = ($c1 - $t1) < ($c2 - $t2) ? ($c1 - $t1) : ($c2 - $t2);
          if (pid == $1) {
            $ex = curtask->se.sum_exec_runtime;
            if (@on[args->prev_pid] != 0) { $ds = $steal - @sv[args->prev_pid]; $dg = $gap < @sg[args->prev_pid] ? $ds : $gap - @sg[args->prev_pid]; printf("v %d %llu %llu %llu %lld\n", args->prev_pid, @on[args->prev_pid], $now, $ds < $dg ? $ds : $dg, @ex[args->prev_pid] != 0 ? (int64)($ex - @ex[args->prev_pid]) : -1); }
            @ex[args->prev_pid] = $ex;
          }
          delete(@on[args->prev_pid]); delete(@sv[args->prev_pid]); delete(@sg[args->prev_pid]);
          @on[args->next_pid] = $now; @sv[args->next_pid] = $steal; @sg[args->next_pid] = $gap;
        """;

    private const string DetailEnd = "clear(@on); clear(@sv); clear(@sg); clear(@ex); clear(@se); clear(@snr);";

    private const string Detail = """
        tracepoint:raw_syscalls:sys_enter /pid == $1/ { @se[tid] = nsecs; @snr[tid] = args->id; }
        tracepoint:raw_syscalls:sys_exit /pid == $1 && @se[tid] != 0/ { printf("s %d %d %llu %llu\n", tid, @snr[tid], @se[tid], nsecs); delete(@se[tid]); delete(@snr[tid]); }
        """;

    private const string MarkThread = "sonde-itmark";

    private readonly Process _p;
    private readonly List<string> _lines = [];
    private readonly HashSet<int> _marked = [];
    private readonly List<string> _errors = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<int, List<(long From, long To)>>? _byTid;

    private InterferenceTrace(Process p) => _p = p;

    /// <param name="detail">also record syscalls and steal (see Script), for the breakdown's checks.</param>
    public static InterferenceTrace Start(int pid, bool detail = false)
    {
        string script = Script.Replace("DETAIL_SWITCH", detail ? DetailSwitch : "").Replace("DETAIL_END", detail ? DetailEnd : "").Replace("DETAIL", detail ? Detail : "");
        MountTracefs();
        var psi = new ProcessStartInfo("bpftrace") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-e", script, pid.ToString(CultureInfo.InvariantCulture), Environment.ProcessId.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi };
        var t = new InterferenceTrace(p);
        try { p.Start(); }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException("bpftrace is not installed (make deps installs it): " + e.Message); }
        // Dedicated threads, not the thread pool's: bpftrace blocks once its pipe is
        // full, and a busy test run can keep pool threads from reading it for long.
        t.StartReader(p.StandardOutput, line =>
        {
            if (line == "ready") t._ready.TrySetResult();
            else if (line.StartsWith("mark ", StringComparison.Ordinal)) { lock (t._marked) t._marked.Add(int.Parse(line[5..], CultureInfo.InvariantCulture)); }
            else lock (t._lines) t._lines.Add(line);
        });
        t.StartReader(p.StandardError, line => { lock (t._errors) t._errors.Add(line); });
        if (Task.WhenAny(t._ready.Task, p.WaitForExitAsync(), Task.Delay(30_000)).Result != t._ready.Task)
            throw new InvalidOperationException("bpftrace did not attach to sched:sched_switch and irq: " + string.Join(" | ", t.Errors()));
        return t;
    }

    private readonly List<Thread> _readers = [];

    private void StartReader(StreamReader r, Action<string> onLine)
    {
        var th = new Thread(() => { while (r.ReadLine() is { } l) onLine(l); }) { IsBackground = true, Name = "bpftrace-reader" };
        _readers.Add(th);
        th.Start();
    }

    /// <summary>bpftrace reads tracepoint formats from tracefs; mount it where a machine hasn't.</summary>
    private static void MountTracefs()
    {
        if (File.Exists("/sys/kernel/tracing/events/sched/sched_switch/format")) return;
        var r = HostCommand.Run("mount", ["-t", "tracefs", "nodev", "/sys/kernel/tracing"]);
        if (!File.Exists("/sys/kernel/tracing/events/sched/sched_switch/format"))
            throw new InvalidOperationException("tracefs is not mounted at /sys/kernel/tracing and mounting it failed: " + r);
    }

    private string[] Errors() { lock (_errors) return [.. _errors.Where(e => !e.Contains("RLIMIT_MEMLOCK"))]; }

    /// <summary>
    /// Stops the trace and takes what it recorded. The record is whole once every CPU's
    /// mark has been read. bpftrace's own exit is not waited for long: it once
    /// took over 60 s in CI (its perf-event detaches take the kernel's event_mutex, as
    /// every other tracer's uprobe detaches do, each for ~110 ms here). A lost event fails: the truth must be whole.
    /// </summary>
    public void Stop()
    {
        if (_byTid is not null) return;
        var cpus = OnlineCpus();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            int[] missing;
            lock (_marked) missing = [.. cpus.Where(c => !_marked.Contains(c))];
            if (missing.Length == 0) break;
            if (_p.HasExited) throw new InvalidOperationException("bpftrace exited before the trace was stopped: " + string.Join(" | ", Errors()));
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"bpftrace did not print its marks for CPUs {string.Join(",", missing)} within 60 s: its record is not known to be whole");
            foreach (int c in missing) SwitchOutOn(c);
            Thread.Sleep(10);
        }
        Posix.Kill(_p.Id, Posix.SIGINT);
        if (!_p.WaitForExit(10_000)) _p.Kill();
        foreach (var th in _readers) th.Join(5_000);
        string[] printed;
        lock (_lines) printed = [.. _lines];
        var lost = Errors().Concat(printed).Where(e => e.Contains("Lost", StringComparison.OrdinalIgnoreCase)).ToList();
        if (lost.Count > 0) throw new InvalidOperationException("the interference trace lost events: " + string.Join(" | ", lost));
        _byTid = [];
        lock (_lines)
            foreach (var l in _lines)
            {
                var f = l.Split(' ');
                long[] n = new long[f.Length - 1];
                bool ok = f.Length >= 4;
                for (int i = 1; ok && i < f.Length; i++) ok = long.TryParse(f[i], CultureInfo.InvariantCulture, out n[i - 1]);
                if (!ok) continue;
                int tid = (int)n[0];
                switch (f[0])
                {
                    case "o" when n.Length == 5:
                        Add(_byTid, tid, (n[1], n[3]));
                        Add(_offCpu, tid, new OffCpu(n[1], n[2], n[3], (n[4] & 0xff) != 0));   // TASK_REPORT_MAX (0x100): preempted
                        break;
                    case "i" when n.Length == 3: Add(_byTid, tid, (n[1], n[2])); break;
                    case "s" when n.Length == 4: Add(_syscalls, tid, new Syscall((int)n[1], n[2], n[3])); break;
                    case "v" when n.Length == 5: Add(_onCpu, tid, new OnCpu(n[1], n[2], n[3], n[4])); break;
                }
            }

        static void Add<T>(Dictionary<int, List<T>> d, int tid, T v)
        {
            if (!d.TryGetValue(tid, out var list)) d[tid] = list = [];
            list.Add(v);
        }
    }

    /// <summary>A thread switched out at <c>Out</c> (<c>Slept</c>: to sleep, not preempted), woken at <c>Woken</c> (0: not seen), in again at <c>In</c>.</summary>
    public readonly record struct OffCpu(long Out, long Woken, long In, bool Slept);

    /// <summary>A syscall of a thread, from its sys_enter to its sys_exit.</summary>
    public readonly record struct Syscall(int Nr, long Enter, long Exit);

    private readonly Dictionary<int, List<OffCpu>> _offCpu = [];
    private readonly Dictionary<int, List<Syscall>> _syscalls = [];
    private readonly Dictionary<int, List<OnCpu>> _onCpu = [];

    /// <summary>A thread on a CPU from <c>In</c> to <c>Out</c>: <c>Steal</c> ns stolen from that CPU meanwhile, <c>Exec</c> ns charged to the thread (-1: not known).</summary>
    public readonly record struct OnCpu(long In, long Out, long Steal, long Exec);

    /// <summary>Thread <paramref name="tid"/>'s off-CPU intervals (detail or not), in the order they ended.</summary>
    public IReadOnlyList<OffCpu> OffCpuOf(int tid) => Stopped(_offCpu).GetValueOrDefault(tid) ?? [];

    /// <summary>Thread <paramref name="tid"/>'s syscalls (with detail), in the order they ended.</summary>
    public IReadOnlyList<Syscall> SyscallsOf(int tid) => Stopped(_syscalls).GetValueOrDefault(tid) ?? [];

    /// <summary>
    /// What the hypervisor stole from thread <paramref name="tid"/>'s CPUs while it was
    /// on them, within [from, to] (with detail). An on-CPU interval only partly inside
    /// counts in proportion: the steal clock says how much, not when.
    /// </summary>
    public long StolenNs(int tid, long from, long to) => Prorated(tid, from, to, v => v.Steal);

    /// <summary>
    /// What the kernel's record can say for sure of the steal within [from, to] (with
    /// detail): at least the steal of the on-CPU intervals wholly inside, at most that of
    /// every interval that overlaps it. The steal clock moves at switches and ticks, so
    /// the steal of an interval that straddles from or to may lie on either side.
    /// </summary>
    public (long Least, long Most) StolenBoundsNs(int tid, long from, long to)
    {
        long least = 0, most = 0;
        foreach (var (v, inside) in Overlapping(tid, from, to))
        {
            most += v.Steal;
            if (inside == v.Out - v.In) least += v.Steal;
        }
        return (least, most);
    }

    /// <summary>Thread <paramref name="tid"/>'s stints on a CPU that overlap [from, to], each with how long of it lies inside.</summary>
    private IEnumerable<(OnCpu V, long Inside)> Overlapping(int tid, long from, long to)
    {
        foreach (var v in Stopped(_onCpu).GetValueOrDefault(tid) ?? [])
        {
            long inside = Math.Min(v.Out, to) - Math.Max(v.In, from);
            if (v.Out > v.In && inside > 0) yield return (v, inside);
        }
    }

    /// <summary>A stint's time charged to no one's CPU clock (0 when its charge is not known).</summary>
    private static long Uncharged(OnCpu v) => v.Exec >= 0 ? Math.Max(0, v.Out - v.In - v.Steal - v.Exec) : 0;

    /// <summary>
    /// The part of thread <paramref name="tid"/>'s time on its CPUs within [from, to]
    /// that the scheduler charged to no one's CPU clock: neither its own (Exec) nor
    /// stolen (with detail). On a VM each context switch leaves a few microseconds so.
    /// </summary>
    public long UnchargedNs(int tid, long from, long to) => Prorated(tid, from, to, Uncharged);

    /// <summary>
    /// Bounds of <see cref="UnchargedNs"/> without prorating: a stint's uncharged time
    /// lies at its ends (the switches' own cost, and a run-queue clock a switch left
    /// stale), so for a stint that straddles from or to it may lie outside. At least
    /// that of the stints wholly inside, at most each overlapping stint's, up to its part inside.
    /// </summary>
    public (long Least, long Most) UnchargedBoundsNs(int tid, long from, long to)
    {
        long least = 0, most = 0;
        foreach (var (v, inside) in Overlapping(tid, from, to))
        {
            long uncharged = Uncharged(v);
            if (inside == v.Out - v.In) least += uncharged;
            most += Math.Min(uncharged, inside);
        }
        return (least, most);
    }

    /// <summary>
    /// Bounds of the CPU time the scheduler charged thread <paramref name="tid"/> within
    /// [from, to], without prorating: a stint on a CPU that straddles from or to has its
    /// charge (Exec) somewhere in it, not spread evenly (the steal clock moves in lumps,
    /// and what the hypervisor took is charged to no one). Inside lies at least Exec less
    /// the part outside, at most Exec and at most the part inside.
    /// </summary>
    public (long Least, long Most) ChargedBoundsNs(int tid, long from, long to)
    {
        long least = 0, most = 0;
        foreach (var (v, inside) in Overlapping(tid, from, to))
        {
            long exec = v.Exec >= 0 ? v.Exec : v.Out - v.In - v.Steal;
            long outside = v.Out - v.In - inside;
            least += Math.Max(0, exec - outside);
            most += Math.Min(exec, inside);
        }
        return (least, most);
    }

    /// <summary>The CPU time the scheduler charged thread <paramref name="tid"/> within [from, to] (with detail), prorated over each stint.</summary>
    public long ChargedNs(int tid, long from, long to) => Prorated(tid, from, to, v => v.Exec >= 0 ? v.Exec : v.Out - v.In - v.Steal);

    private long Prorated(int tid, long from, long to, Func<OnCpu, long> amount)
    {
        double sum = 0;
        foreach (var v in Stopped(_onCpu).GetValueOrDefault(tid) ?? [])
            if (v.Out > v.In && Math.Min(v.Out, to) > Math.Max(v.In, from))
                sum += (double)amount(v) * (Math.Min(v.Out, to) - Math.Max(v.In, from)) / (v.Out - v.In);
        return (long)sum;
    }

    private Dictionary<int, List<T>> Stopped<T>(Dictionary<int, List<T>> d) => _byTid is null ? throw new InvalidOperationException("Stop first") : d;

    /// <summary>A thread named MarkThread, pinned to <paramref name="cpu"/>, sleeps there once.</summary>
    private static void SwitchOutOn(int cpu)
    {
        Exception? error = null;
        var th = new Thread(() =>
        {
            try { Posix.PinThisThread(cpu); Thread.Sleep(1); }
            catch (Exception e) { error = e; }
        }) { Name = MarkThread, IsBackground = true };
        th.Start();
        th.Join();
        if (error is not null) throw new InvalidOperationException($"could not run a thread on CPU {cpu}: {error.Message}", error);
    }

    /// <summary>The CPUs this process may run on, from /sys/devices/system/cpu/online ("0-1,4").</summary>
    private static int[] OnlineCpus()
    {
        var cpus = new List<int>();
        foreach (var part in File.ReadAllText("/sys/devices/system/cpu/online").Trim().Split(','))
        {
            var ends = part.Split('-');
            int lo = int.Parse(ends[0], CultureInfo.InvariantCulture), hi = int.Parse(ends[^1], CultureInfo.InvariantCulture);
            for (int c = lo; c <= hi; c++) cpus.Add(c);
        }
        return [.. cpus];
    }

    public int Count => _byTid?.Values.Sum(l => l.Count) ?? throw new InvalidOperationException("Stop first");

    /// <summary>How long thread <paramref name="tid"/> was kept from running its code within [from, to].</summary>
    public long InterferedNs(int tid, long from, long to)
    {
        if (_byTid is null) throw new InvalidOperationException("Stop first");
        if (to <= from || !_byTid.TryGetValue(tid, out var list)) return 0;
        long sum = 0;
        foreach (var (f, t) in list) sum += Math.Max(0, Math.Min(t, to) - Math.Max(f, from));
        return sum;
    }

    public void Dispose()
    {
        try { if (!_p.HasExited) _p.Kill(); } catch (InvalidOperationException) { }
        _p.Dispose();
    }
}
