namespace Sonde.Interop.LibC;

/// <summary>A libc call failed with errno.</summary>
public sealed class NativeCallException : Exception
{
    public NativeCallException(string call, int errno) : base($"{call} failed: {Errno.Describe(errno)}")
    {
        Call = call;
        ErrnoValue = errno;
    }

    public string Call { get; }
    public int ErrnoValue { get; }
}
