namespace Sonde.Interop.LibC;

/// <summary>
/// A file's (device, inode): how Sonde tells whether two paths (an --exe
/// argument and /proc/PID/exe) are the same executable. stat() follows links.
/// </summary>
public readonly record struct FileIdentity(ulong Device, ulong Inode)
{
    public static bool TryOf(string path, out FileIdentity id)
    {
        bool ok = FileVersion.TryOf(path, out var version);
        id = version.Id;
        return ok;
    }
}
