using System.Runtime.InteropServices;

namespace Sonde.Tracing;

/// <summary>
/// struct sonde_go_config of bpf/http.h: the struct offsets the BPF programs
/// need for one traced binary, stored in the `configs` map at the index passed
/// to each of that binary's uprobes as its bpf_cookie.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct GoTargetConfig
{
    public uint GGoid;
    public uint RequestMethod;
    public uint RequestUrl;
    public uint UrlPath;
    public uint UrlRawPath;
    public uint ResponseReq;
    public uint ResponseStatus;
    /// <summary>gin.Context.fullPath; 0 when the binary has no Gin.</summary>
    public uint GinContextFullPath;
    public uint Valid;
}
