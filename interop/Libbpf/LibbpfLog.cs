using System.Runtime.InteropServices;

namespace Sonde.Interop.Libbpf;

/// <summary>libbpf's print levels (enum libbpf_print_level).</summary>
public enum LibbpfLogLevel { Warning = 0, Info = 1, Debug = 2 }

/// <summary>
/// Routes libbpf's print callback into .NET. libbpf hands a printf format and a
/// va_list; libc's vsnprintf formats it (on x86-64 a va_list argument is a
/// pointer). The lines of the current thread's libbpf call are also kept so a
/// failure can carry them in its <see cref="BpfException"/>.
/// </summary>
public static unsafe class LibbpfLog
{
    private static Action<LibbpfLogLevel, string>? s_sink;
    private static int s_installed;

    [ThreadStatic] private static List<string>? t_lines;

    /// <summary>Where libbpf's lines go (e.g. an ILogger). Debug lines are only kept, not sent.</summary>
    public static void SetSink(Action<LibbpfLogLevel, string>? sink)
    {
        s_sink = sink;
        EnsureInstalled();
    }

    internal static void EnsureInstalled()
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 0)
            LibbpfNative.libbpf_set_print(&OnPrint);
    }

    /// <summary>Starts collecting this thread's libbpf lines for one call.</summary>
    internal static void BeginCall()
    {
        EnsureInstalled();
        (t_lines ??= new List<string>()).Clear();
    }

    internal static IReadOnlyList<string> TakeLines()
    {
        if (t_lines is null || t_lines.Count == 0) return Array.Empty<string>();
        var copy = t_lines.ToArray();
        t_lines.Clear();
        return copy;
    }

    [UnmanagedCallersOnly]
    private static int OnPrint(int level, byte* format, nint args)
    {
        try
        {
            const int Size = 4096;
            byte* buf = stackalloc byte[Size];
            int n = Sonde.Interop.LibC.LibCNative.vsnprintf(buf, Size, format, args);
            if (n < 0) return 0;
            string line = Marshal.PtrToStringUTF8((nint)buf, Math.Min(n, Size - 1)).TrimEnd('\n');
            var lvl = (LibbpfLogLevel)level;
            var lines = t_lines;
            if (lines is not null && lines.Count < 2000) lines.Add(line);
            if (lvl != LibbpfLogLevel.Debug) s_sink?.Invoke(lvl, line);
        }
        catch
        {
            // Never let an exception cross into native code.
        }
        return 0;
    }
}
