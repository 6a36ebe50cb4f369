namespace Sonde.GoBinary;

/// <summary>
/// Byte offsets (linux/amd64) of the Go struct fields that Sonde's BPF programs
/// read in a traced process. They come from the binary's DWARF when it has any,
/// otherwise from <see cref="KnownLayouts"/>. <see cref="Absent"/> (-1) marks a
/// field that does not exist in that Go version.
/// </summary>
/// <param name="GGoid">runtime.g.goid: int64 (uint64 from go1.20), the goroutine id.</param>
/// <param name="GAtomicStatus">runtime.g.atomicstatus: 4 bytes (uint32; atomic.Uint32 from go1.20), the _Grunning/_Gwaiting/... state.</param>
/// <param name="GWaitReason">runtime.g.waitreason: 1 byte (waitReason uint8), valid while the status is _Gwaiting; see <see cref="GoWaitReasons"/>.</param>
/// <param name="GM">runtime.g.m: *m, the thread running the goroutine (nil when not running).</param>
/// <param name="MProcid">runtime.m.procid: uint64, the OS thread id (gettid) on Linux.</param>
/// <param name="MCurg">runtime.m.curg: *g, the user goroutine the thread runs.</param>
/// <param name="RequestMethod">net/http.Request.Method: string (pointer, length).</param>
/// <param name="RequestUrl">net/http.Request.URL: *url.URL.</param>
/// <param name="RequestHeader">net/http.Request.Header: map pointer.</param>
/// <param name="RequestContentLength">net/http.Request.ContentLength: int64.</param>
/// <param name="RequestHost">net/http.Request.Host: string.</param>
/// <param name="RequestRemoteAddr">net/http.Request.RemoteAddr: string ("ip:port").</param>
/// <param name="UrlPath">net/url.URL.Path: string.</param>
/// <param name="UrlRawQuery">net/url.URL.RawQuery: string.</param>
/// <param name="ResponseReq">net/http.response.req: *Request.</param>
/// <param name="ResponseStatus">net/http.response.status: int (8 bytes); 0 until WriteHeader.</param>
/// <param name="ResponseWroteHeader">net/http.response.wroteHeader: bool (1 byte).</param>
/// <param name="ResponseWritten">net/http.response.written: int64, body bytes written so far.</param>
/// <param name="UrlRawPath">net/url.URL.RawPath: string (right after Path until go1.25; go1.26 moved it behind RawQuery).</param>
/// <param name="RequestPattern">net/http.Request.Pattern: string, the ServeMux pattern that matched (go1.23+; <see cref="Absent"/> before).</param>
/// <param name="RequestProtoMajor">net/http.Request.ProtoMajor: int, 2 for a request net/http's HTTP/2 server made.</param>
/// <param name="H2WriterState">the HTTP/2 server's responseWriter.rws: *responseWriterState (net/http.http2responseWriter,
/// net/http/internal/http2.responseWriter from go1.27). Its pointer is the ResponseWriter's data word.</param>
/// <param name="H2StateStatus">responseWriterState.status: int, 0 until WriteHeader.</param>
/// <param name="UrlScheme">net/url.URL.Scheme: string ("https" for an outgoing call over TLS).</param>
/// <param name="UrlHost">net/url.URL.Host: string, an outgoing call's host[:port].</param>
/// <param name="ResponseStatusCode">net/http.Response.StatusCode: int, an outgoing call's status.</param>
/// <param name="GParentGoid">runtime.g.parentGoid: uint64, the goid of the goroutine that started it (go1.21+; <see cref="Absent"/> before).</param>
/// <param name="ResponseBody">net/http.Response.Body: io.ReadCloser, an outgoing call's body, whose Close ends the call for its caller.</param>
/// <param name="H2ResponseBody">net/http/internal/http2.ClientResponse.Body: the same in what go1.27's HTTP/2 client returns (<see cref="Absent"/> before go1.27).</param>
public sealed record GoLayout(
    int GGoid,
    int GAtomicStatus,
    int GWaitReason,
    int GM,
    int MProcid,
    int MCurg,
    int RequestMethod,
    int RequestUrl,
    int RequestHeader,
    int RequestContentLength,
    int RequestHost,
    int RequestRemoteAddr,
    int UrlPath,
    int UrlRawQuery,
    int ResponseReq,
    int ResponseStatus,
    int ResponseWroteHeader,
    int ResponseWritten,
    int UrlRawPath,
    int RequestPattern,
    int RequestProtoMajor,
    int H2WriterState,
    int H2StateStatus,
    int UrlScheme,
    int UrlHost,
    int ResponseStatusCode,
    int GParentGoid,
    int ResponseBody,
    int H2ResponseBody)
{
    /// <summary>The offset of a field that the Go version does not have.</summary>
    public const int Absent = -1;

    /// <summary>The DWARF names of the three HTTP/2 status fields and go1.27's HTTP/2 client's body, declared before DwarfFields, which uses them ("A|B": A up to go1.26, B from go1.27).</summary>
    public static readonly (string Struct, string Field) RequestProtoMajorField = ("net/http.Request", "ProtoMajor"),
        H2WriterStateField = ("net/http.http2responseWriter|net/http/internal/http2.responseWriter", "rws"),
        H2StateStatusField = ("net/http.http2responseWriterState|net/http/internal/http2.responseWriterState", "status"),
        H2ResponseBodyField = ("net/http/internal/http2.ClientResponse", "Body");

    /// <summary>The struct and field (DWARF names) of each offset, in the parameter order.</summary>
    public static IReadOnlyList<(string Struct, string Field)> DwarfFields { get; } =
    [
        ("runtime.g", "goid"), ("runtime.g", "atomicstatus"), ("runtime.g", "waitreason"), ("runtime.g", "m"),
        ("runtime.m", "procid"), ("runtime.m", "curg"),
        ("net/http.Request", "Method"), ("net/http.Request", "URL"), ("net/http.Request", "Header"),
        ("net/http.Request", "ContentLength"), ("net/http.Request", "Host"), ("net/http.Request", "RemoteAddr"),
        ("net/url.URL", "Path"), ("net/url.URL", "RawQuery"),
        ("net/http.response", "req"), ("net/http.response", "status"), ("net/http.response", "wroteHeader"), ("net/http.response", "written"),
        ("net/url.URL", "RawPath"), ("net/http.Request", "Pattern"),
        RequestProtoMajorField, H2WriterStateField, H2StateStatusField,
        ("net/url.URL", "Scheme"), ("net/url.URL", "Host"), ("net/http.Response", "StatusCode"),
        ("runtime.g", "parentGoid"), ("net/http.Response", "Body"), H2ResponseBodyField,
    ];

    /// <summary>One field's offset from DWARF; a struct named "A|B" is A in some Go versions, B in others.</summary>
    public static int? DwarfOffset(DwarfStructs dwarf, (string Struct, string Field) field)
    {
        ArgumentNullException.ThrowIfNull(dwarf);
        return field.Struct.Split('|').Select(s => dwarf.FieldOffset(s, field.Field)).FirstOrDefault(f => f is not null);
    }

    /// <summary>Fields some Go versions lack: <see cref="FromDwarf"/> gives them <see cref="Absent"/>.</summary>
    private static readonly HashSet<(string, string)> Optional = [("net/http.Request", "Pattern"), ("runtime.g", "parentGoid")];

    /// <summary>Fields of structs that only some Go versions have: <see cref="Absent"/> where the struct is missing too.</summary>
    private static readonly HashSet<(string, string)> OfNewerStructs = [H2ResponseBodyField];

    /// <summary>The offsets in the parameter order.</summary>
    public IReadOnlyList<int> Offsets =>
    [
        GGoid, GAtomicStatus, GWaitReason, GM, MProcid, MCurg, RequestMethod, RequestUrl, RequestHeader,
        RequestContentLength, RequestHost, RequestRemoteAddr, UrlPath, UrlRawQuery, ResponseReq, ResponseStatus,
        ResponseWroteHeader, ResponseWritten, UrlRawPath, RequestPattern, RequestProtoMajor, H2WriterState, H2StateStatus,
        UrlScheme, UrlHost, ResponseStatusCode, GParentGoid, ResponseBody, H2ResponseBody,
    ];

    public static GoLayout FromOffsets(IReadOnlyList<int> o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Count != DwarfFields.Count)
            throw new ArgumentException($"{o.Count} offsets, not {DwarfFields.Count}", nameof(o));
        return new(o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], o[8], o[9], o[10], o[11], o[12], o[13], o[14], o[15], o[16], o[17], o[18], o[19],
            o[20], o[21], o[22], o[23], o[24], o[25], o[26], o[27], o[28]);
    }

    /// <summary>The layout read from a binary's DWARF; null when a field is missing from it.</summary>
    public static GoLayout? FromDwarf(DwarfStructs dwarf)
    {
        ArgumentNullException.ThrowIfNull(dwarf);
        var o = new int[DwarfFields.Count];
        for (int i = 0; i < o.Length; i++)
        {
            if (DwarfOffset(dwarf, DwarfFields[i]) is { } offset)
                o[i] = offset;
            else if ((Optional.Contains(DwarfFields[i]) && dwarf.HasStruct(DwarfFields[i].Struct)) || OfNewerStructs.Contains(DwarfFields[i]))
                o[i] = Absent;
            else
                return null;
        }
        return FromOffsets(o);
    }
}
