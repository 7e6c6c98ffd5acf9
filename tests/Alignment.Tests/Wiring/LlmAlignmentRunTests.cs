using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Alignment.Tests.Api;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.Alignment.Tests.Reflection;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MetricAlignment.Alignment.Tests.Wiring;

/// <summary>
/// The Alignment service with an LLM provider "local" pointing at a scripted OpenAI-compatible loopback server
/// (builtin stays the platform default), on its own database and RabbitMQ vhost.
/// </summary>
public sealed class LlmAlignmentAppFixture : IAsyncLifetime
{
    IsolatedAlignmentApp app = null!;
    public ScriptedOpenAiServer Server { get; private set; } = null!;
    public WebApplicationFactory<Program> Factory => app.Factory;
    public HttpClient Client => app.Client;
    public FakeMetricsClient Metrics { get; } = new();
    public FakeAnnotationsClient Annotations { get; } = new();
    /// <summary>When set, answers every model call instead of the normal script (tests of one class run one at a time).</summary>
    public Func<ChatRequest, ScriptedResponse>? Override { get; set; }

    public async Task InitializeAsync()
    {
        // The judge answers 3 on every row: enough to exercise verification end to end.
        var script = ReflectionData.Script(
            judge: _ => ScriptedResponse.Json(new JsonObject { ["score"] = 3, ["explanation"] = "Mostly supported." }, promptTokens: 300, completionTokens: 20));
        Server = await ScriptedOpenAiServer.StartAsync(request => Override?.Invoke(request) ?? script(request));
        app = await IsolatedAlignmentApp.StartAsync("llm", Metrics, Annotations, new()
        {
            ["Alignment:Worker:HeartbeatInterval"] = "00:00:01",
            ["Alignment:Providers:local:Endpoint"] = Server.Endpoint.ToString(),
            ["Alignment:Providers:local:ApiKey"] = "sk-test-wiring",
            ["Alignment:Providers:local:DefaultModel"] = "gpt-4o-mini",
            ["Alignment:Providers:local:AllowedModels:0"] = "gpt-4o-mini",
            ["Alignment:Providers:local:TimeoutSeconds"] = "10",
            ["Alignment:Providers:local:RetryBaseDelaySeconds"] = "0.01",
        });
    }

    public async Task DisposeAsync()
    {
        await app.DisposeAsync();
        await Server.DisposeAsync();
    }

    public async Task<(HttpResponseMessage Response, JsonNode Body)> StartAsync(object request)
    {
        var response = await Client.PostAsJsonAsync("/api/alignment-runs", request);
        return (response, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    public Task<JsonNode> WaitForSettledAsync(Guid id) => app.WaitForSettledAsync(id);

    public Task<JsonNode> WaitForRunAsync(Guid id, Func<JsonNode, bool> until, TimeSpan timeout) => app.WaitForRunAsync(id, until, timeout);

    /// <summary>A metric with one completed evaluation of six rows, three of them disagreeing.</summary>
    public (Guid MetricId, Guid EvaluationId) AddAlignableMetric()
    {
        var metric = Metrics.Add();
        var evaluation = Annotations.AddEvaluation(metric.Id);
        Annotations.Rows[metric.Id] = ct => FakeAnnotationsClient.SixRows(metric.Id, evaluation.EvaluationId, ct);
        return (metric.Id, evaluation.EvaluationId);
    }
}

public sealed class Alignment_runs_with_an_llm_provider(LlmAlignmentAppFixture app) : IClassFixture<LlmAlignmentAppFixture>
{
    [Fact]
    public async Task A_run_on_an_llm_provider_reaches_aligned_with_token_usage_and_guidelines_citing_rows()
    {
        var (metricId, evaluationId) = app.AddAlignableMetric();

        var (response, body) = await app.StartAsync(new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 2, reflectionProvider = "local" });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        ((string?)body["options"]!["reflectionModel"]).Should().Be("gpt-4o-mini", "the provider's default model is stored on the run");
        var run = await app.WaitForSettledAsync(Guid.Parse((string)body["id"]!));

        ((string?)run["status"]).Should().Be("aligned", run.ToJsonString());
        ((long)run["tokenUsage"]!["total"]!["totalTokens"]!).Should().BeGreaterThan(0);
        run["tokenUsage"]!["perPhase"]!["reflection.batch"].Should().NotBeNull();
        var guideline = run["guidelines"]!.AsArray().Should().ContainSingle().Subject!;
        guideline["sourceRowIds"]!.AsArray().Should().NotBeEmpty();
        run["verification"].Should().BeNull("no judge model was asked for");
    }

    [Fact]
    public async Task A_run_with_a_judge_model_stores_the_verification_report()
    {
        var (metricId, evaluationId) = app.AddAlignableMetric();

        var (response, body) = await app.StartAsync(new
        {
            metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 2, reflectionProvider = "local", judgeProvider = "local", judgeModel = "gpt-4o-mini",
        });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        var run = await app.WaitForSettledAsync(Guid.Parse((string)body["id"]!));

        ((string?)run["status"]).Should().Be("aligned", run.ToJsonString());
        var verification = run["verification"]!;
        ((int)verification["heldOutRowCount"]!).Should().BeGreaterThan(0);
        ((string?)verification["summary"]).Should().NotBeNullOrWhiteSpace();
        verification["baseline"]!["rowCount"].Should().NotBeNull();
        run["tokenUsage"]!["perPhase"]!["verification.baseline"].Should().NotBeNull();
        run["tokenUsage"]!["perPhase"]!["verification.refined"].Should().NotBeNull();
    }

    [Fact]
    public async Task A_model_outside_the_providers_allowed_list_is_refused_on_the_model_field()
    {
        var (metricId, evaluationId) = app.AddAlignableMetric();

        var (response, body) = await app.StartAsync(new
        {
            metricId, evaluationIds = new[] { evaluationId }, reflectionProvider = "local", reflectionModel = "gpt-4.1", judgeProvider = "local", judgeModel = "o3",
        });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        body["errors"]!["reflectionModel"].Should().NotBeNull();
        body["errors"]!["judgeModel"].Should().NotBeNull();
    }

    [Fact]
    public async Task A_reflection_model_that_never_returns_valid_json_fails_the_run_while_distilling_with_a_readable_message()
    {
        var (metricId, evaluationId) = app.AddAlignableMetric();
        app.Override = _ => ScriptedResponse.Completion("I think the judge is too lenient.");
        try
        {
            var (response, body) = await app.StartAsync(new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 2, reflectionProvider = "local" });
            response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());

            var run = await app.WaitForSettledAsync(Guid.Parse((string)body["id"]!));

            ((string?)run["status"]).Should().Be("error", run.ToJsonString());
            ((string?)run["error"]!["phase"]).Should().Be("distilling_guidelines");
            ((string?)run["error"]!["detail"]).Should().StartWith("Model 'gpt-4o-mini' of provider 'local' did not return a valid answer");
        }
        finally
        {
            app.Override = null;
        }
    }
}
