using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Annotations.Tests;

/// <summary>
/// The real HttpMetricCatalog, talking to a scripted Metrics service in which 'brand-voice' is a custom metric of
/// globex and 'fluency' a built-in that every workspace sees.
/// </summary>
public sealed class MetricCatalogClientTests : IClassFixture<AnnotationsApiFactory>, IDisposable
{
    readonly ScriptedMetrics metrics = new();
    readonly WebApplicationFactory<Program> service;

    public MetricCatalogClientTests(AnnotationsApiFactory api)
    {
        service = api.WithWebHostBuilder(web => web.ConfigureTestServices(services =>
            services.AddHttpClient<IMetricCatalog, HttpMetricCatalog>().ConfigurePrimaryHttpMessageHandler(() => metrics)));
    }

    public void Dispose() => service.Dispose();

    sealed record Seen(string Path, string? Authorization, string? Workspace);

    sealed class ScriptedMetrics : HttpMessageHandler
    {
        public readonly ConcurrentQueue<Seen> Requests = new();
        /// <summary>When set, every call fails with what it makes, as the resilience pipeline around the client would.</summary>
        public Func<Exception>? Failure;

        static JsonObject Metric(string id, string key) => new()
        {
            ["id"] = id, ["key"] = key, ["type"] = "quantitative", ["scaleMin"] = 1, ["scaleMax"] = 5, ["labels"] = new JsonArray(),
        };

        static IEnumerable<JsonObject> Visible(string? workspace) =>
            workspace == TestTokens.OtherWorkspace
                ? [Metric("0b5c3c5e-0002-4000-8000-000000000002", "fluency"), Metric("0b5c3c5e-0009-4000-8000-000000000009", "brand-voice")]
                : [Metric("0b5c3c5e-0002-4000-8000-000000000002", "fluency")];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var workspace = request.Headers.TryGetValues(Caller.WorkspaceHeader, out var values) ? values.Single() : null;
            var path = request.RequestUri!.AbsolutePath;
            Requests.Enqueue(new Seen(path, request.Headers.Authorization?.ToString(), workspace));
            if (Failure is { } failure) return Task.FromException<HttpResponseMessage>(failure());
            var metrics = Visible(workspace).ToList();
            HttpResponseMessage response;
            if (path == "/api/metrics")
                response = new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(new JsonArray(metrics.ToArray<JsonNode?>())) };
            else
            {
                var key = Uri.UnescapeDataString(path["/api/metrics/".Length..]);
                var metric = metrics.FirstOrDefault(m => (string)m["key"]! == key || (string)m["id"]! == key);
                response = metric is null ? new HttpResponseMessage(HttpStatusCode.NotFound) : new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(metric) };
            }
            return Task.FromResult(response);
        }
    }

    [Theory]
    [InlineData("timed out")]
    [InlineData("circuit open")]
    public async Task A_metrics_service_the_resilience_pipeline_gave_up_on_answers_503_not_500(string kind)
    {
        metrics.Failure = () => kind == "timed out"
            ? new Polly.Timeout.TimeoutRejectedException("The operation didn't complete within the allowed timeout of '00:00:10'.")
            : new Polly.CircuitBreaker.BrokenCircuitException("The circuit is now open and is not allowing calls.");
        using var client = service.CreateClient().As();

        using var response = await client.GetAsync("/api/metrics/fluency/resolved-rows");

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        response.Headers.RetryAfter.Should().NotBeNull();
    }

    [Fact]
    public async Task Metric_lookups_forward_the_callers_token_and_name_its_workspace()
    {
        var client = service.CreateClient().As(Roles.Viewer, TestTokens.OtherWorkspace);

        var response = await client.GetAsync("/api/metrics/brand-voice/eligible-evaluations");

        response.StatusCode.Should().Be(HttpStatusCode.OK, "brand-voice is one of globex's metrics");
        metrics.Requests.Should().NotBeEmpty().And.OnlyContain(r =>
            r.Authorization == client.DefaultRequestHeaders.Authorization!.ToString() && r.Workspace == TestTokens.OtherWorkspace);
    }

    [Fact]
    public async Task Another_workspaces_custom_metric_is_unknown_even_once_cached_for_its_own()
    {
        var globex = service.CreateClient().As(Roles.Viewer, TestTokens.OtherWorkspace);
        var acme = service.CreateClient().As(Roles.Viewer, TestTokens.Workspace);

        (await globex.GetAsync("/api/metrics/brand-voice/eligible-evaluations")).StatusCode.Should().Be(HttpStatusCode.OK);
        var fromDefault = await acme.GetAsync("/api/metrics/brand-voice/eligible-evaluations");
        (await globex.GetAsync("/api/metrics/brand-voice/eligible-evaluations")).StatusCode.Should().Be(HttpStatusCode.OK);

        fromDefault.StatusCode.Should().Be(HttpStatusCode.NotFound, "globex's cached list must not answer for default");
        metrics.Requests.Where(r => r.Workspace == TestTokens.Workspace).Should().NotBeEmpty();
        metrics.Requests.Count(r => r.Workspace == TestTokens.OtherWorkspace && r.Path == "/api/metrics")
            .Should().Be(1, "globex's list is cached between its lookups");
    }

    [Fact]
    public async Task A_service_callers_lookups_name_the_workspace_of_its_request()
    {
        var client = service.CreateClient().AsService(TestTokens.OtherWorkspace);

        (await client.GetAsync("/api/metrics/brand-voice/resolved-rows")).StatusCode.Should().Be(HttpStatusCode.OK);

        metrics.Requests.Should().NotBeEmpty().And.OnlyContain(r =>
            r.Workspace == TestTokens.OtherWorkspace && r.Authorization == client.DefaultRequestHeaders.Authorization!.ToString());
    }
}
