using Iced.Intel;
using Sonde.GoBinary;

namespace Sonde.Tracing;

/// <summary>
/// grpc-go's server, which serves HTTP/2 with its own transport, not
/// net/http's: one record per call, on the goroutine that serves it. From
/// grpc-go's source (server.go, internal/transport) at v1.33.3, v1.64.0 and
/// v1.83.1:
/// <list type="bullet">
/// <item>start: <c>(*Server).handleStream(t ServerTransport, stream, ...)</c>, stream
/// in RDI at every version (a <c>*transport.Stream</c>, from v1.69 a
/// <c>*transport.ServerStream</c>, which embeds Stream first). It runs on a
/// goroutine of the call's own, or on a server worker's, one call after
/// another. The stream's <c>method</c> (the full method, "/pkg.Service/Method")
/// is set before.</item>
/// <item>status: <c>(*http2Server).WriteStatus(s, st *status.Status)</c> (up to
/// v1.68; <c>writeStatus</c> from v1.69), stream in RBX and st in RCX, called at
/// most once per call, on the call's goroutine. The code is
/// <c>st.s.Code</c> (internal/status.Status wraps genproto's
/// <c>*spb.Status</c>; a nil one is OK).</item>
/// <item>end: the first emulated instruction after each call of handleStream
/// (its goroutine's closure, the server worker's loop), or its RETs.</item>
/// </list>
/// A call that ends without a status write (the client went away before the
/// response, the connection broke) has no gRPC status.
/// </summary>
public static class GrpcServer
{
    public const string Package = "google.golang.org/grpc";
    public const string HandleStream = Package + ".(*Server).handleStream";
    public const string Transport = Package + "/internal/transport";

    /// <summary>
    /// The functions that write a call's status: grpc-go's own HTTP/2 transport's
    /// (WriteStatus up to v1.68, writeStatus from v1.69), and the one of a server
    /// run as a net/http handler (<c>grpc.Server.ServeHTTP</c>), with the same
    /// arguments. Each one linked in is probed.
    /// </summary>
    public static IReadOnlyList<string> StatusWriters { get; } =
    [
        Transport + ".(*http2Server).WriteStatus", Transport + ".(*http2Server).writeStatus",
        Transport + ".(*serverHandlerTransport).WriteStatus", Transport + ".(*serverHandlerTransport).writeStatus",
    ];

    /// <summary>grpc-go's module version as .go.buildinfo records it ("v1.64.0"), or null (GOPATH builds record none).</summary>
    public static string? ModuleVersion(GoExecutable exe)
    {
        ArgumentNullException.ThrowIfNull(exe);
        return exe.BuildInfo.Modules.TryGetValue(Package, out var v) ? v : null;
    }

    /// <summary>
    /// The offsets the gRPC programs read, into <paramref name="config"/>: from
    /// DWARF, else from the binary's own accessors (<see cref="FromCode"/>).
    /// Says where they came from, or, when the method can't be read, why gRPC
    /// calls won't be traced (then the method offset stays 0).
    /// </summary>
    public static string Resolve(GoExecutable exe, ref GoTargetConfig config, bool statusProbe)
    {
        ArgumentNullException.ThrowIfNull(exe);
        string? version = ModuleVersion(exe);
        string named = version is null ? "grpc-go" : $"grpc-go {version}";
        (int Method, int? Proto, int? Code)? found = exe.Dwarf is { } d ? FromDwarf(d) : null;
        string source = "from DWARF";
        if (found is null)
        {
            found = FromCode(exe);
            source = "from its accessors' code";
        }
        if (found is not { } f)
            return $"{named}: transport.Stream.method's offset not found (no DWARF, no (*Stream).Method): gRPC off";
        config.GrpcStreamMethod = (uint)f.Method;
        if (statusProbe && f.Proto is int proto && f.Code is int code)
        {
            config.GrpcStatusProto = (uint)proto;
            config.GrpcProtoCode = (uint)code;
            config.GrpcStatusStreamArg = 2; // RBX: the stream, at every version
            config.GrpcStatusArg = 3;       // RCX: *status.Status
            return $"{named} {source}";
        }
        return $"{named} {source}, gRPC status unknown ({(statusProbe ? "status.Status's layout not found" : "no status writer to probe")})";
    }

    /// <summary>(Stream.method, Status.s, spb.Status.Code) from DWARF; null without the stream's.</summary>
    public static (int Method, int? Proto, int? Code)? FromDwarf(DwarfStructs d)
    {
        ArgumentNullException.ThrowIfNull(d);
        int? method = d.FieldOffset(Transport + ".Stream", "method");
        if (method is null) return null;
        // v1.69+: handleStream gets a *ServerStream, which embeds Stream.
        if (d.HasStruct(Transport + ".ServerStream"))
        {
            if (d.FieldOffset(Transport + ".ServerStream", "Stream") is not int embedded) return null;
            method += embedded;
        }
        int? proto = d.FieldOffset(Package + "/internal/status.Status", "s");
        int? code = d.FieldOffset("google.golang.org/genproto/googleapis/rpc/status.Status", "Code");
        return (method.Value, proto, code);
    }

    /// <summary>
    /// The same offsets from the accessors grpc-go compiles into every server
    /// (methods of types it uses through interfaces): <c>(*Stream).Method</c>
    /// (<c>return s.method</c>: two loads, ptr and len, at the field) and
    /// internal/status's <c>(*Status).Code</c> (a load of s.s, then a 32-bit
    /// load of its Code). What the binary's own code does is its layout, whatever
    /// the grpc-go and genproto versions. Null without the method's.
    /// </summary>
    public static (int Method, int? Proto, int? Code)? FromCode(GoExecutable exe)
    {
        ArgumentNullException.ThrowIfNull(exe);
        int? method = null;
        // v1.69+: the promoted (*ServerStream).Method shows Stream's place in it too.
        foreach (var name in new[] { Transport + ".(*ServerStream).Method", Transport + ".(*Stream).Method" })
            if (exe.Functions.Find(name) is { } f && StringLoad(exe, f) is int m) { method = m; break; }
        if (method is null) return null;
        (int? proto, int? code) = (null, null);
        if (exe.Functions.Find(Package + "/internal/status.(*Status).Code") is { } c)
            (proto, code) = PointerThenInt32(exe, c);
        return (method.Value, proto, code);
    }

    /// <summary>A getter's first load through its receiver (RAX): an 8-byte word at d, followed by one at d + 8.</summary>
    private static int? StringLoad(GoExecutable exe, GoFunction f)
    {
        var insns = MachineCode.Decode(f, exe.Code(f));
        for (int i = 0; i + 1 < insns.Count && i < 8; i++)
        {
            if (!IsLoad(insns[i], Register.RAX, MemorySize.UInt64, out long d)) continue;
            return IsLoad(insns[i + 1], Register.RAX, MemorySize.UInt64, out long d2) && d2 == d + 8 && d is >= 0 and < 4096 ? (int)d : null;
        }
        return null;
    }

    /// <summary>A load of a pointer through RAX at d1, then a 32-bit load through that register at d2.</summary>
    private static (int? First, int? Second) PointerThenInt32(GoExecutable exe, GoFunction f)
    {
        var insns = MachineCode.Decode(f, exe.Code(f));
        for (int i = 0; i < insns.Count && i < 12; i++)
        {
            if (!IsLoad(insns[i], Register.RAX, MemorySize.UInt64, out long d1)) continue;
            var loaded = insns[i].Op0Register;
            for (int j = i + 1; j < insns.Count && j < i + 6; j++)
                if (IsLoad(insns[j], loaded, MemorySize.UInt32, out long d2) || IsLoad(insns[j], loaded, MemorySize.Int32, out d2))
                    return d1 is >= 0 and < 4096 && d2 is >= 0 and < 4096 ? ((int)d1, (int)d2) : (null, null);
            break;
        }
        return (null, null);
    }

    private static bool IsLoad(in Instruction i, Register baseReg, MemorySize size, out long displacement)
    {
        displacement = (long)i.MemoryDisplacement64;
        return (i.Mnemonic == Mnemonic.Mov || i.Mnemonic == Mnemonic.Movsxd) && i.Op0Kind == OpKind.Register && i.Op1Kind == OpKind.Memory
            && i.MemoryBase == baseReg && i.MemoryIndex == Register.None && i.MemorySize == size;
    }
}
