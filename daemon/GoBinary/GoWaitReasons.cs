using System.Collections.Frozen;

namespace Sonde.GoBinary;

/// <summary>
/// Go's <c>runtime.waitReason</c> enum per Go minor version: the value
/// <c>runtime.gopark</c> receives as its wait-reason argument (and that
/// <c>g.waitreason</c> holds) mapped to its name as in the runtime's
/// <c>waitReasonStrings</c> (what a goroutine dump prints). The values shift
/// between versions, so "chan receive" is not one number.
/// </summary>
/// <remarks>
/// Source: src/runtime/runtime2.go at each release tag, the
/// <c>const ( waitReasonZero waitReason = iota ... )</c> block (the order, so
/// the values) and <c>var waitReasonStrings</c> (the names). Patch releases
/// only ever appended: go1.23.4 added "GC weak to strong wait" (37), which the
/// go1.23 table includes since no go1.23.x value means anything else. The
/// go1.19 table matches the DWARF constants of a go1.19.8 build.
/// </remarks>
public static class GoWaitReasons
{
    /// <summary>
    /// Value to name for Go 1.<paramref name="minor"/>, or null outside
    /// <see cref="KnownLayouts.SupportedGoMinors"/>. Names are unique within a
    /// version, so the map can be inverted.
    /// </summary>
    public static IReadOnlyDictionary<int, string>? For(int major, int minor)
    {
        if (major != 1)
            return null;
        if (GeneratedLayouts.Embedded.WaitReasons.TryGetValue(minor, out var generated))
            return generated.Value;
        return minor is >= 17 and <= 25 ? ByMinor[minor - 17] : null;
    }

    /// <summary>The table typed from the source, for go1.17 .. go1.25 (the versions no toolchain here builds rely on it).</summary>
    internal static IReadOnlyDictionary<int, string> HandTable(int minor) => ByMinor[minor - 17];

    private static IReadOnlyDictionary<int, string>[] Build()
    {
        var go117 = ToMap(Go117);
        var go120 = ToMap(Go120);
        return
        [
            go117, go117, go117,   // go1.17, go1.18, go1.19: one enum
            go120, go120,          // go1.20, go1.21.0
            ToMap(Go122),          // go1.22.0
            ToMap(Go123),          // go1.23.0 (+ go1.23.4's addition)
            ToMap(Go124),          // go1.24.0
            ToMap(Go125),          // go1.25.0
        ];
    }

    private static FrozenDictionary<int, string> ToMap(string[] names) =>
        names.Select((name, value) => KeyValuePair.Create(value, name)).ToFrozenDictionary();

    // Index = numeric value. Each array is the enum at the tag in its comment.
    // Declared before ByMinor: static initializers run in textual order.

    // go1.17, go1.18, go1.19: src/runtime/runtime2.go @ go1.17 (identical at go1.18 and go1.19).
    private static readonly string[] Go117 =
    [
        /*  0 */ "",
        /*  1 */ "GC assist marking",
        /*  2 */ "IO wait",
        /*  3 */ "chan receive (nil chan)",
        /*  4 */ "chan send (nil chan)",
        /*  5 */ "dumping heap",
        /*  6 */ "garbage collection",
        /*  7 */ "garbage collection scan",
        /*  8 */ "panicwait",
        /*  9 */ "select",
        /* 10 */ "select (no cases)",
        /* 11 */ "GC assist wait",
        /* 12 */ "GC sweep wait",
        /* 13 */ "GC scavenge wait",
        /* 14 */ "chan receive",
        /* 15 */ "chan send",
        /* 16 */ "finalizer wait",
        /* 17 */ "force gc (idle)",
        /* 18 */ "semacquire",
        /* 19 */ "sleep",
        /* 20 */ "sync.Cond.Wait",
        /* 21 */ "timer goroutine (idle)",
        /* 22 */ "trace reader (blocked)",
        /* 23 */ "wait for GC cycle",
        /* 24 */ "GC worker (idle)",
        /* 25 */ "preempted",
        /* 26 */ "debug call",
    ];

    // go1.20, go1.21.0: src/runtime/runtime2.go @ go1.20 (identical at go1.21.0).
    // "timer goroutine (idle)" (21) is gone; sync.Mutex.Lock, sync.RWMutex.RLock and
    // sync.RWMutex.Lock take 21..23, "GC worker (active)", "GC mark termination" and
    // "stopping the world" are inserted, so values from 21 on move.
    private static readonly string[] Go120 =
    [
        /*  0 */ "",
        /*  1 */ "GC assist marking",
        /*  2 */ "IO wait",
        /*  3 */ "chan receive (nil chan)",
        /*  4 */ "chan send (nil chan)",
        /*  5 */ "dumping heap",
        /*  6 */ "garbage collection",
        /*  7 */ "garbage collection scan",
        /*  8 */ "panicwait",
        /*  9 */ "select",
        /* 10 */ "select (no cases)",
        /* 11 */ "GC assist wait",
        /* 12 */ "GC sweep wait",
        /* 13 */ "GC scavenge wait",
        /* 14 */ "chan receive",
        /* 15 */ "chan send",
        /* 16 */ "finalizer wait",
        /* 17 */ "force gc (idle)",
        /* 18 */ "semacquire",
        /* 19 */ "sleep",
        /* 20 */ "sync.Cond.Wait",
        /* 21 */ "sync.Mutex.Lock",
        /* 22 */ "sync.RWMutex.RLock",
        /* 23 */ "sync.RWMutex.Lock",
        /* 24 */ "trace reader (blocked)",
        /* 25 */ "wait for GC cycle",
        /* 26 */ "GC worker (idle)",
        /* 27 */ "GC worker (active)",
        /* 28 */ "preempted",
        /* 29 */ "debug call",
        /* 30 */ "GC mark termination",
        /* 31 */ "stopping the world",
    ];

    // go1.22.0: src/runtime/runtime2.go @ go1.22.0; go1.20's enum with 32..36 appended.
    private static readonly string[] Go122 =
    [
        /*  0 */ "",
        /*  1 */ "GC assist marking",
        /*  2 */ "IO wait",
        /*  3 */ "chan receive (nil chan)",
        /*  4 */ "chan send (nil chan)",
        /*  5 */ "dumping heap",
        /*  6 */ "garbage collection",
        /*  7 */ "garbage collection scan",
        /*  8 */ "panicwait",
        /*  9 */ "select",
        /* 10 */ "select (no cases)",
        /* 11 */ "GC assist wait",
        /* 12 */ "GC sweep wait",
        /* 13 */ "GC scavenge wait",
        /* 14 */ "chan receive",
        /* 15 */ "chan send",
        /* 16 */ "finalizer wait",
        /* 17 */ "force gc (idle)",
        /* 18 */ "semacquire",
        /* 19 */ "sleep",
        /* 20 */ "sync.Cond.Wait",
        /* 21 */ "sync.Mutex.Lock",
        /* 22 */ "sync.RWMutex.RLock",
        /* 23 */ "sync.RWMutex.Lock",
        /* 24 */ "trace reader (blocked)",
        /* 25 */ "wait for GC cycle",
        /* 26 */ "GC worker (idle)",
        /* 27 */ "GC worker (active)",
        /* 28 */ "preempted",
        /* 29 */ "debug call",
        /* 30 */ "GC mark termination",
        /* 31 */ "stopping the world",
        /* 32 */ "flushing proc caches",
        /* 33 */ "trace goroutine status",
        /* 34 */ "trace proc status",
        /* 35 */ "page trace flush",
        /* 36 */ "coroutine",
    ];

    // go1.23: src/runtime/runtime2.go @ go1.23.0 (the same enum as go1.22.0), plus
    // 37 "GC weak to strong wait", appended at go1.23.4.
    private static readonly string[] Go123 =
    [
        /*  0 */ "",
        /*  1 */ "GC assist marking",
        /*  2 */ "IO wait",
        /*  3 */ "chan receive (nil chan)",
        /*  4 */ "chan send (nil chan)",
        /*  5 */ "dumping heap",
        /*  6 */ "garbage collection",
        /*  7 */ "garbage collection scan",
        /*  8 */ "panicwait",
        /*  9 */ "select",
        /* 10 */ "select (no cases)",
        /* 11 */ "GC assist wait",
        /* 12 */ "GC sweep wait",
        /* 13 */ "GC scavenge wait",
        /* 14 */ "chan receive",
        /* 15 */ "chan send",
        /* 16 */ "finalizer wait",
        /* 17 */ "force gc (idle)",
        /* 18 */ "semacquire",
        /* 19 */ "sleep",
        /* 20 */ "sync.Cond.Wait",
        /* 21 */ "sync.Mutex.Lock",
        /* 22 */ "sync.RWMutex.RLock",
        /* 23 */ "sync.RWMutex.Lock",
        /* 24 */ "trace reader (blocked)",
        /* 25 */ "wait for GC cycle",
        /* 26 */ "GC worker (idle)",
        /* 27 */ "GC worker (active)",
        /* 28 */ "preempted",
        /* 29 */ "debug call",
        /* 30 */ "GC mark termination",
        /* 31 */ "stopping the world",
        /* 32 */ "flushing proc caches",
        /* 33 */ "trace goroutine status",
        /* 34 */ "trace proc status",
        /* 35 */ "page trace flush",
        /* 36 */ "coroutine",
        /* 37 */ "GC weak to strong wait",
    ];

    // go1.24.0: src/runtime/runtime2.go @ go1.24.0; "sync.WaitGroup.Wait" inserted at 24
    // (values from 24 on move), synctest reasons appended (39..43).
    private static readonly string[] Go124 =
    [
        /*  0 */ "",
        /*  1 */ "GC assist marking",
        /*  2 */ "IO wait",
        /*  3 */ "chan receive (nil chan)",
        /*  4 */ "chan send (nil chan)",
        /*  5 */ "dumping heap",
        /*  6 */ "garbage collection",
        /*  7 */ "garbage collection scan",
        /*  8 */ "panicwait",
        /*  9 */ "select",
        /* 10 */ "select (no cases)",
        /* 11 */ "GC assist wait",
        /* 12 */ "GC sweep wait",
        /* 13 */ "GC scavenge wait",
        /* 14 */ "chan receive",
        /* 15 */ "chan send",
        /* 16 */ "finalizer wait",
        /* 17 */ "force gc (idle)",
        /* 18 */ "semacquire",
        /* 19 */ "sleep",
        /* 20 */ "sync.Cond.Wait",
        /* 21 */ "sync.Mutex.Lock",
        /* 22 */ "sync.RWMutex.RLock",
        /* 23 */ "sync.RWMutex.Lock",
        /* 24 */ "sync.WaitGroup.Wait",
        /* 25 */ "trace reader (blocked)",
        /* 26 */ "wait for GC cycle",
        /* 27 */ "GC worker (idle)",
        /* 28 */ "GC worker (active)",
        /* 29 */ "preempted",
        /* 30 */ "debug call",
        /* 31 */ "GC mark termination",
        /* 32 */ "stopping the world",
        /* 33 */ "flushing proc caches",
        /* 34 */ "trace goroutine status",
        /* 35 */ "trace proc status",
        /* 36 */ "page trace flush",
        /* 37 */ "coroutine",
        /* 38 */ "GC weak to strong wait",
        /* 39 */ "synctest.Run",
        /* 40 */ "synctest.Wait",
        /* 41 */ "chan receive (synctest)",
        /* 42 */ "chan send (synctest)",
        /* 43 */ "select (synctest)",
    ];

    // go1.25.0: src/runtime/runtime2.go @ go1.25.0; "GOMAXPROCS updater (idle)" inserted
    // at 18, so semacquire, sleep and everything after it move by one; the synctest
    // names read "(durable)" and two reasons are appended (45, 46).
    private static readonly string[] Go125 =
    [
        /*  0 */ "",
        /*  1 */ "GC assist marking",
        /*  2 */ "IO wait",
        /*  3 */ "chan receive (nil chan)",
        /*  4 */ "chan send (nil chan)",
        /*  5 */ "dumping heap",
        /*  6 */ "garbage collection",
        /*  7 */ "garbage collection scan",
        /*  8 */ "panicwait",
        /*  9 */ "select",
        /* 10 */ "select (no cases)",
        /* 11 */ "GC assist wait",
        /* 12 */ "GC sweep wait",
        /* 13 */ "GC scavenge wait",
        /* 14 */ "chan receive",
        /* 15 */ "chan send",
        /* 16 */ "finalizer wait",
        /* 17 */ "force gc (idle)",
        /* 18 */ "GOMAXPROCS updater (idle)",
        /* 19 */ "semacquire",
        /* 20 */ "sleep",
        /* 21 */ "sync.Cond.Wait",
        /* 22 */ "sync.Mutex.Lock",
        /* 23 */ "sync.RWMutex.RLock",
        /* 24 */ "sync.RWMutex.Lock",
        /* 25 */ "sync.WaitGroup.Wait",
        /* 26 */ "trace reader (blocked)",
        /* 27 */ "wait for GC cycle",
        /* 28 */ "GC worker (idle)",
        /* 29 */ "GC worker (active)",
        /* 30 */ "preempted",
        /* 31 */ "debug call",
        /* 32 */ "GC mark termination",
        /* 33 */ "stopping the world",
        /* 34 */ "flushing proc caches",
        /* 35 */ "trace goroutine status",
        /* 36 */ "trace proc status",
        /* 37 */ "page trace flush",
        /* 38 */ "coroutine",
        /* 39 */ "GC weak to strong wait",
        /* 40 */ "synctest.Run",
        /* 41 */ "synctest.Wait",
        /* 42 */ "chan receive (durable)",
        /* 43 */ "chan send (durable)",
        /* 44 */ "select (durable)",
        /* 45 */ "sync.WaitGroup.Wait (durable)",
        /* 46 */ "cleanup wait",
    ];

    private static readonly IReadOnlyDictionary<int, string>[] ByMinor = Build();
}
