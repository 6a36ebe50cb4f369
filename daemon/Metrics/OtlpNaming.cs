namespace Sonde.Metrics;

/// <summary>
/// How a family is named when pushed over OTLP. OpenTelemetry's semantic
/// conventions spell with dots and UCUM units what Prometheus spells with
/// underscores and unit suffixes: <c>http.server.request.duration</c> in
/// <c>s</c> with attribute <c>http.route</c> is
/// <c>http_server_request_duration_seconds{http_route}</c>. A collector's
/// Prometheus exporter turns the former back into the latter.
/// </summary>
/// <param name="Name">The OTLP metric name.</param>
/// <param name="Unit">UCUM unit (<c>s</c>, <c>By</c>, <c>1</c>); empty when none.</param>
/// <param name="AttributeNames">
/// One attribute name per label, in the family's label order; null keeps the
/// label names.
/// </param>
public sealed record OtlpNaming(string Name, string Unit, IReadOnlyList<string>? AttributeNames = null);
