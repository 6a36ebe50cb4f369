namespace Sonde.Interop.Libbpf;

/// <summary>
/// A libbpf call failed. Carries the errno and the lines libbpf logged during
/// the call (the verifier's log on a load failure), so the message says why.
/// </summary>
public sealed class BpfException : Exception
{
    public BpfException(string operation, int errno, IReadOnlyList<string> libbpfLog)
        : base(Format(operation, errno, libbpfLog))
    {
        Operation = operation;
        Errno = errno;
        LibbpfLog = libbpfLog;
    }

    public string Operation { get; }
    public int Errno { get; }
    public IReadOnlyList<string> LibbpfLog { get; }

    private static string Format(string operation, int errno, IReadOnlyList<string> log)
    {
        var msg = $"{operation} failed: {Sonde.Interop.LibC.Errno.Describe(errno)}";
        if (log.Count == 0) return msg;
        // The verifier log can be long; its tail holds the reason.
        var tail = log.Count > 40 ? log.Skip(log.Count - 40) : log;
        return msg + Environment.NewLine + "libbpf: " + string.Join(Environment.NewLine + "libbpf: ", tail);
    }
}
