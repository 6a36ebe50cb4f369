using Sonde.Metrics;

namespace Sonde.Tests.Metrics;

/// <summary>The Accept headers real scrapers send, and what each gets.</summary>
public sealed class ContentNegotiationTests
{
    // Prometheus 2.42.0, scrape/scrape.go: scrapeAcceptHeader and scrapeAcceptHeaderWithProtobuf.
    private const string Prometheus242 =
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    private const string Prometheus242NativeHistograms =
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    // Prometheus 3 (scrape/scrape.go acceptHeader over config.DefaultScrapeProtocols / DefaultProtoFirstScrapeProtocols).
    private const string Prometheus3 =
        "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    private const string Prometheus3ProtoFirst =
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
    // The form quoted in Sonde's issue (protobuf at q=0.7).
    private const string IssueExample =
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3";

    [Theory]
    [InlineData(Prometheus242, ExpositionFormat.OpenMetrics)]
    [InlineData(Prometheus242NativeHistograms, ExpositionFormat.Protobuf)]
    [InlineData(Prometheus3, ExpositionFormat.OpenMetrics)]
    [InlineData(Prometheus3ProtoFirst, ExpositionFormat.Protobuf)]
    [InlineData(IssueExample, ExpositionFormat.Protobuf)]
    [InlineData(null, ExpositionFormat.PrometheusText)]
    [InlineData("", ExpositionFormat.PrometheusText)]
    [InlineData("*/*", ExpositionFormat.PrometheusText)]
    [InlineData("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ExpositionFormat.PrometheusText)]
    [InlineData("text/plain", ExpositionFormat.PrometheusText)]
    [InlineData("application/openmetrics-text", ExpositionFormat.OpenMetrics)]
    [InlineData("application/json", ExpositionFormat.PrometheusText)]
    // A version we don't write is skipped for the next acceptable one.
    [InlineData("application/openmetrics-text;version=2.0.0,text/plain;version=0.0.4;q=0.5", ExpositionFormat.PrometheusText)]
    // Protobuf in another encoding, or refused with q=0, is not protobuf.
    [InlineData("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text,application/openmetrics-text;q=0.5", ExpositionFormat.OpenMetrics)]
    [InlineData("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0,text/plain", ExpositionFormat.PrometheusText)]
    // Order in the header does not beat q.
    [InlineData("text/plain;version=0.0.4;q=0.2, application/openmetrics-text; version=1.0.0; q=0.9", ExpositionFormat.OpenMetrics)]
    public void Negotiate_picks_what_the_scraper_prefers(string? accept, ExpositionFormat expected) =>
        Assert.Equal(expected, MetricsExposition.Negotiate(accept));

    [Fact]
    public void Content_types_name_the_versions()
    {
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", MetricsExposition.ContentType(ExpositionFormat.PrometheusText));
        Assert.Equal("application/openmetrics-text; version=1.0.0; charset=utf-8", MetricsExposition.ContentType(ExpositionFormat.OpenMetrics));
        Assert.Equal("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            MetricsExposition.ContentType(ExpositionFormat.Protobuf));
    }

    [Theory]
    [InlineData("gzip", true)]
    [InlineData("identity", false)]
    [InlineData("", false)]
    [InlineData("br, gzip;q=0.5", true)]
    [InlineData("gzip;q=0", false)]
    [InlineData("*", true)]
    public void Gzip_is_used_when_accepted(string acceptEncoding, bool expected) =>
        Assert.Equal(expected, MetricsEndpoint.AcceptsGzip(acceptEncoding));
}
