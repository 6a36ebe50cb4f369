namespace Sonde.Aggregation;

/// <summary>
/// gRPC status codes (grpc/grpc doc/statuscodes.md; grpc-go codes/codes.go) and
/// which ones count as a server's errors: OpenTelemetry's RPC conventions
/// (semantic-conventions v1.44.0, docs/rpc/grpc.md) take UNKNOWN,
/// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS on the
/// server side; the others are the client's doing (NOT_FOUND, INVALID_ARGUMENT...).
/// </summary>
public static class GrpcCodes
{
    private static readonly string[] Names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    /// <summary>"NOT_FOUND" for 5; a code outside the list is its number; an unknown status is "unknown".</summary>
    public static string Name(int code) => code switch
    {
        < 0 => "unknown",
        _ when code < Names.Length => Names[code],
        _ => code.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Whether a server that answered with <paramref name="code"/> failed (OpenTelemetry's list).</summary>
    public static bool IsServerError(int code) => code is 2 or 4 or 12 or 13 or 14 or 15;
}
