using System.Runtime.InteropServices;

namespace Sonde.Tracing;

/// <summary>
/// struct sonde_go_config of bpf/http.h: the struct offsets the BPF programs
/// need for one traced binary, stored in the `configs` map at the index passed
/// to each of that binary's uprobes as its bpf_cookie.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct GoTargetConfig
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
    /// <summary>echo.context.path; 0 when the binary has no echo routes.</summary>
    public uint EchoContextPath;
    /// <summary>chi.Context.RoutePatterns; 0 when the binary has no chi routes.</summary>
    public uint ChiContextPatterns;
    /// <summary>gorilla/mux: Route's routeConf.regexp.path (*routeRegexp); 0 when the binary has no gorilla/mux routes.</summary>
    public uint MuxRouteRegexpPath;
    /// <summary>gorilla/mux: routeRegexp.template.</summary>
    public uint MuxRegexpTemplate;
    /// <summary>net/http.Request.Pattern (Go 1.23+: the ServeMux pattern that matched); 0 when the Go version has none.</summary>
    public uint RequestPattern;
    /// <summary>net/http.Request.ProtoMajor.</summary>
    public uint RequestProtoMajor;
    /// <summary>The HTTP/2 server's responseWriter.rws.</summary>
    public uint H2WriterState;
    /// <summary>responseWriterState.status; 0 when the HTTP/2 status can't be read.</summary>
    public uint H2StateStatus;
    /// <summary>grpc-go: transport.Stream.method (string).</summary>
    public uint GrpcStreamMethod;
    /// <summary>grpc-go: internal/status.Status.s (*spb.Status).</summary>
    public uint GrpcStatusProto;
    /// <summary>google.golang.org/genproto's spb.Status.Code (int32).</summary>
    public uint GrpcProtoCode;
    /// <summary>The argument of grpc-go's WriteStatus (1–4) that holds the stream; 0: not checked.</summary>
    public uint GrpcStatusStreamArg;
    /// <summary>The argument of grpc-go's WriteStatus (1–4) that holds the *status.Status; 0: no gRPC status.</summary>
    public uint GrpcStatusArg;
    /// <summary>net/url.URL.Scheme (string).</summary>
    public uint UrlScheme;
    /// <summary>net/url.URL.Host (string).</summary>
    public uint UrlHost;
    /// <summary>net/http.Response.StatusCode (int); 0: outgoing calls are not read.</summary>
    public uint ResponseStatusCode;
    /// <summary>runtime.g.parentGoid (go1.21+); 0: calls are followed on the request's own goroutine only.</summary>
    public uint GParentGoid;
    /// <summary>net/http.Response.Body (an interface: its data word 8 bytes on); 0: bodies are not timed.</summary>
    public uint ResponseBody;
    /// <summary>net/http/internal/http2.ClientResponse.Body (go1.27); 0: none.</summary>
    public uint H2ResponseBody;
    public uint Valid;
    /// <summary>1 when the scheduler probes and tracepoints are attached.</summary>
    public uint Breakdown;
    /// <summary>1: the probes cover every process of the file; only tgids in the `tgids` map are traced.</summary>
    public uint FilterTgids;
    /// <summary>runtime.waitReason value → <see cref="BreakdownCategories"/> index, for this Go version.</summary>
    public fixed byte WaitCategory[64];
}
