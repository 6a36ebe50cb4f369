namespace Sonde.GoBinary;

/// <summary>
/// Struct offsets for Go binaries without DWARF (stripped, or built with
/// <c>-ldflags=-w</c>), keyed by Go minor version and by Gin version.
/// linux/amd64 only: pointer 8, string 16, slice 24, interface 16.
/// </summary>
/// <remarks>
/// Every number is derived by hand from the Go (or Gin) source at the release
/// tag named next to it; the arithmetic is written out below so a reader can
/// redo it. Checked against DWARF of real builds (Debian's toolchains, Gin
/// 1.8.1): go1.19.8, go1.21.13, go1.22.12, go1.23.5, go1.24.4 and go1.25.12
/// matched every value. go1.17, go1.18 and go1.20 rest on the source alone.
/// Patch releases keep their .0 release's offsets: compared at every tag of
/// go1.17.x-go1.21.13, go1.22.0-go1.22.10, go1.23.0-go1.23.4, go1.24.0-go1.24.5
/// and go1.25.0-go1.25.3 (go1.18.2 wrote m's padding before procid out as
/// <c>_ uint32</c>, which moves nothing), and by the DWARF checks above.
/// </remarks>
public static class KnownLayouts
{
    /// <summary>Go minor versions (of Go 1) the rows derived by hand cover.</summary>
    private const int HandMin = 17, HandMax = 25;

    /// <summary>
    /// Go minor versions (of Go 1) Sonde knows: the rows derived by hand and
    /// those <see cref="GeneratedLayouts"/> has (every version is in both, or one).
    /// </summary>
    public static (int Min, int Max) SupportedGoMinors =>
        (HandMin, Math.Max(HandMax, GeneratedLayouts.Embedded.Layouts.Keys.DefaultIfEmpty(HandMax).Max()));

    /// <summary>
    /// The layout of Go 1.<paramref name="minor"/> on linux/amd64: the generated
    /// row (from DWARF of that toolchain's build) when there is one, else the
    /// row derived by hand; null for a version Sonde does not know.
    /// </summary>
    public static GoLayout? ForGo(int major, int minor) => Row(major, minor)?.Layout;

    /// <summary>Like <see cref="ForGo"/>, with where the row came from ("DWARF of ... go1.27.3", "Go source at go1.20").</summary>
    public static (GoLayout Layout, string Source)? Row(int major, int minor)
    {
        if (major != 1)
            return null;
        if (GeneratedLayouts.Embedded.Layouts.TryGetValue(minor, out var generated))
            return (generated.Value, generated.Source);
        if (minor < HandMin || minor > HandMax)
            return null;
        return (HandRow(minor), $"Go source at go1.{minor} (no toolchain of it here)");
    }

    /// <summary>The row derived by hand from Go's source, for go1.17 .. go1.25.</summary>
    internal static GoLayout HandRow(int minor) => GoRows[minor - HandMin];

    // runtime.g — src/runtime/runtime2.go, type g struct (the same fields in
    // the same order up to waitreason at go1.17, go1.18, go1.19, go1.20,
    // go1.21.0 and go1.22.0):
    //   stack stack{lo, hi uintptr} 0, stackguard0 16, stackguard1 24,
    //   _panic 32, _defer 40, m 48, sched gobuf 56 (gobuf{sp, pc, g, ctxt,
    //   ret, lr, bp} = 56 bytes), syscallsp 112, syscallpc 120, stktopsp 128,
    //   param 136, atomicstatus 144, stackLock 148, goid 152, schedlink 160,
    //   waitsince 168, waitreason 176.
    //   go1.20 changed atomicstatus to runtime/internal/atomic.Uint32
    //   (struct{noCopy; value uint32}: still 4 bytes) and goid to uint64:
    //   no offset moves.
    // go1.23.0, go1.24.0: `syscallbp uintptr` inserted after syscallpc, so
    //   stktopsp 136, param 144, atomicstatus 152, goid 160, waitreason 184.
    //   (atomic.Uint32 now from internal/runtime/atomic, same shape.)
    // go1.25.0: gobuf lost `ret` (48 bytes), so sched ends at 104 and
    //   syscallsp 104, syscallpc 112, syscallbp 120, stktopsp 128, param 136,
    //   atomicstatus 144, goid 152, waitreason 176.
    //
    // runtime.m — src/runtime/runtime2.go, type m struct:
    //   g0 0, morebuf gobuf 8 (56 bytes), divmod uint32 64, (4 bytes padding;
    //   written `_ uint32` from go1.18.2/go1.19 to go1.24), procid uint64 72,
    //   gsignal 80, goSigStack gsignalStack 88 (src/runtime/signal_unix.go:
    //   stack + stackguard0 + stackguard1 + stktopsp = 40 bytes), sigmask
    //   sigset 128 (src/runtime/os_linux_generic.go: [2]uint32, 8 bytes),
    //   tls [tlsSlots]uintptr 136 (tlsSlots = 6, 48 bytes), mstartfn 184,
    //   curg 192. Same at go1.17 .. go1.24.0.
    // go1.25.0: morebuf is the 48-byte gobuf and the `_ uint32` is gone:
    //   divmod 56, procid 64 (aligned), gsignal 72, goSigStack 80, sigmask 120,
    //   tls 128, mstartfn 176, curg 184.
    //
    // net/http.Request — src/net/http/request.go, type Request struct, same
    // order up to RemoteAddr at every tag go1.17 .. go1.25.0 (go1.22 and go1.23
    // added fields only after Response):
    //   Method string 0, URL *url.URL 16, Proto 24, ProtoMajor 40,
    //   ProtoMinor 48, Header 56, Body io.ReadCloser 64, GetBody func 80,
    //   ContentLength 88, TransferEncoding []string 96, Close bool 120,
    //   Host 128, Form 144, PostForm 152, MultipartForm 160, Trailer 168,
    //   RemoteAddr 176.
    //
    // net/url.URL — src/net/url/url.go, type URL struct, go1.17 .. go1.25.0:
    //   Scheme 0, Opaque 16, User 32, Host 40, Path 56, RawPath 72,
    //   (OmitHost bool 88 from go1.19), ForceQuery bool 88/89, RawQuery 96;
    //   RawPath 72 (right after Path) at every tag go1.5 .. go1.25.
    //
    // HTTP/2 (src/net/http/h2_bundle.go): http2responseWriter{rws
    //   *http2responseWriterState}: rws 0 at every tag. http2responseWriterState:
    //   stream 0, req 8, then go1.16 .. go1.19: body 16, conn 24, bw 32,
    //   handlerHeader 40, snapHeader 48, trailers []string 56, status int 80;
    //   go1.20 .. go1.25 (body removed; go1.22 also dropped `dirty`, after
    //   status): conn 16, bw 24, handlerHeader 32, snapHeader 40, trailers 48,
    //   status 72. Request.ProtoMajor 40 (above).
    //
    // net/http.Request.Pattern (go1.23.0 .. go1.25.0, after RemoteAddr 176):
    //   RequestURI 192, TLS 208, Cancel 216, Response 224, Pattern string 232.
    //   Absent before go1.23.
    //
    // net/http.response — src/net/http/server.go, type response struct:
    //   conn 0, req 8, reqBody io.ReadCloser 16, cancelCtx func 32,
    //   wroteHeader 40, then
    //   go1.17 .. go1.22.0: wroteContinue 41, wants10KeepAlive 42,
    //     wantsClose 43, canWriteContinue 44 (atomicBool int32 up to go1.19,
    //     sync/atomic.Bool {_ noCopy; v uint32} from go1.20: 4 bytes),
    //     writeContinueMu sync.Mutex 48 ({state int32; sema uint32}: 8 bytes);
    //   go1.23.0 .. go1.25.0: wroteContinue removed and the two swapped:
    //     wants10KeepAlive 41, wantsClose 42, writeContinueMu 44 (go1.24's
    //     sync.Mutex is {_ noCopy; mu internal/sync.Mutex}: still 8 bytes,
    //     align 4), canWriteContinue 52;
    //   then, in every version, w *bufio.Writer 56, cw chunkWriter 64
    //   ({res *response; header Header; wroteHeader, chunking bool}: 24 bytes),
    //   handlerHeader 88, calledHeader 96, written 104, contentLength 112,
    //   status 120.
    // net/http.Response — src/net/http/response.go, type Response struct, at
    //   every tag go1.0 .. go1.27: Status string 0, StatusCode int 16, Proto
    //   string 24, ProtoMajor int 40, ProtoMinor int 48, Header 56, Body
    //   io.ReadCloser 64.
    // runtime.g.parentGoid — src/runtime/runtime2.go, added at go1.21.0 (the
    //   goid of the goroutine whose go statement made this one): 272 at
    //   go1.21.0 and go1.22.0, 280 at go1.23.0 and go1.24.0 (syscallbp), as
    //   the DWARF of those toolchains says (LayoutTableTests holds these rows
    //   to it). go1.25.0 is left Absent: no toolchain of it here, and go1.26's
    //   280 shows fields after goid moved by more than gobuf.ret's removal, so
    //   a go1.25 binary without DWARF has its calls followed on the request's
    //   own goroutine only.
    //
    // Columns in GoLayout's parameter order (after Pattern: ProtoMajor, h2 rws,
    // h2 status, then URL.Scheme, URL.Host, Response.StatusCode, g.parentGoid, Response.Body,
    // internal/http2.ClientResponse.Body: go1.27 only, so -1 in every hand row); CLen = ContentLength,
    // Remote = RemoteAddr, wrote = wroteHeader. Row i is go1.(17 + i).
    private static readonly GoLayout[] GoRows =
    [
        //   runtime.g                         runtime.m         net/http.Request                                  net/url.URL       net/http.response
        //     goid  status    wait       m    procid    curg    Method     URL  Header    CLen    Host  Remote      Path   Query       req  status   wrote written  RawPath Pattern
        new(    152,    144,    176,     48,       72,    192,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,     -1,     40,      0,     80,      0,     40,     16,     -1,     64,     -1), // go1.17
        new(    152,    144,    176,     48,       72,    192,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,     -1,     40,      0,     80,      0,     40,     16,     -1,     64,     -1), // go1.18
        new(    152,    144,    176,     48,       72,    192,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,     -1,     40,      0,     80,      0,     40,     16,     -1,     64,     -1), // go1.19
        new(    152,    144,    176,     48,       72,    192,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,     -1,     40,      0,     72,      0,     40,     16,     -1,     64,     -1), // go1.20
        new(    152,    144,    176,     48,       72,    192,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,     -1,     40,      0,     72,      0,     40,     16,    272,     64,     -1), // go1.21.0
        new(    152,    144,    176,     48,       72,    192,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,     -1,     40,      0,     72,      0,     40,     16,    272,     64,     -1), // go1.22.0
        new(    160,    152,    184,     48,       72,    192,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,    232,     40,      0,     72,      0,     40,     16,    280,     64,     -1), // go1.23.0: g.syscallbp added
        new(    160,    152,    184,     48,       72,    192,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,    232,     40,      0,     72,      0,     40,     16,    280,     64,     -1), // go1.24.0
        new(    152,    144,    176,     48,       64,    184,        0,     16,     56,     88,    128,    176,       56,     96,        8,    120,     40,    104,     72,    232,     40,      0,     72,      0,     40,     16,     -1,     64,     -1), // go1.25.0: gobuf.ret removed
    ];

    /// <summary>
    /// The gin.Context offsets Sonde reads (linux/amd64; Gin's layout does not
    /// depend on the Go version).
    /// </summary>
    /// <param name="FullPath">gin.Context.fullPath: string, the matched route template.</param>
    /// <param name="Request">gin.Context.Request: *http.Request.</param>
    /// <param name="WriterStatus">gin.Context.writermem.status: the offset of
    /// <c>writermem</c> plus that of <c>status</c> (int) in gin's responseWriter.</param>
    public sealed record GinLayout(int FullPath, int Request, int WriterStatus);

    /// <summary>
    /// The gin.Context layout for a Gin module version as .go.buildinfo records
    /// it ("v1.8.1"; the leading "v" may be omitted), or null for a version not
    /// in the table (pseudo-versions included): the caller then assumes
    /// <see cref="GinFallback"/>.
    /// </summary>
    public static GinLayout? GinContext(string ginVersion)
    {
        var version = ginVersion.Trim();
        if (!version.StartsWith('v'))
            version = "v" + version;
        return Array.IndexOf(GinVersions, version) >= 0 ? GinV17Onwards : null;
    }

    /// <summary>Offset of gin.Context.fullPath for a known Gin version, else null; see <see cref="GinContext"/>.</summary>
    public static int? GinContextFullPath(string ginVersion) => GinContext(ginVersion)?.FullPath;

    /// <summary>
    /// The layout to assume when the binary names no Gin version: a GOPATH-mode
    /// build (GO111MODULE=off, as with Debian's packaged Gin) carries no module
    /// information at all, and a pseudo-version is in no table. Every Gin release
    /// that has fullPath (v1.5.0 onwards, v1.12.0 the latest checked) puts these
    /// fields at the same offsets, so this is the best guess; whoever reads the
    /// string through it should still sanity-check it (bounded length, leading '/').
    /// </summary>
    public static GinLayout GinFallback => GinV17Onwards;

    /// <summary>The fullPath offset of <see cref="GinFallback"/>.</summary>
    public static int? GinFallbackFullPath => GinFallback.FullPath;

    // github.com/gin-gonic/gin — context.go, type Context struct; the same
    // fields in the same order up to fullPath at every tag below:
    //   writermem responseWriter 0, Request *http.Request 32,
    //   Writer ResponseWriter (interface) 40, Params []Param 56,
    //   handlers HandlersChain ([]HandlerFunc) 80, index int8 104,
    //   fullPath string 112.
    // response_writer.go, type responseWriter struct, at every tag below:
    //   http.ResponseWriter (embedded interface) 0, size int 16, status int 24;
    //   32 bytes. So writermem.status = 0 + 24.
    // Later fields changed between tags (skippedNodes added at v1.7.7, Keys'
    // type at v1.8.0 and v1.11.0) but all of them come after fullPath.
    private static readonly GinLayout GinV17Onwards = new(FullPath: 112, Request: 32, WriterStatus: 0 + 24);

    // Every tag of github.com/gin-gonic/gin from v1.7.0 on (there is no v1.7.5).
    private static readonly string[] GinVersions =
    [
        "v1.7.0", "v1.7.1", "v1.7.2", "v1.7.3", "v1.7.4", "v1.7.6", "v1.7.7",
        "v1.8.0", "v1.8.1", "v1.8.2",
        "v1.9.0", "v1.9.1",
        "v1.10.0", "v1.10.1",
        "v1.11.0",
        "v1.12.0",
    ];
}
