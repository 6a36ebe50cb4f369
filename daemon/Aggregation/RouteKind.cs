namespace Sonde.Aggregation;

/// <summary>What a <see cref="RouteRow"/>'s <see cref="RouteRow.Route"/> is.</summary>
public enum RouteKind
{
    /// <summary>A route template reported by the router (<c>/users/:id</c>).</summary>
    Template,
    /// <summary>A raw URL path: the router's template was unknown.</summary>
    Path,
    /// <summary>A gRPC method (<c>/grpc.health.v1.Health/Check</c>), whose calls grpc-go served.</summary>
    Rpc,
    /// <summary>The row that folds every key past the table's row cap.</summary>
    Other,
    /// <summary>The row that counts every request of the table.</summary>
    All,
}
