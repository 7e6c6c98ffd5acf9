using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MassTransit;
using MetricAlignment.Alignment.Tests.Api;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.Alignment.Tests.Reflection;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Alignment.Tests.Wiring;

/// <summary>Prompt and completion tokens of runs on an LLM provider: on the run and in its events, also when it fails.</summary>
public sealed class Token_usage_of_llm_runs(LlmAlignmentAppFixture app) : IClassFixture<LlmAlignmentAppFixture>
{
    [Fact]
    public async Task An_aligned_runs_event_carries_its_prompt_and_completion_tokens_overall_and_per_phase()
    {
        await using var events = await PublishedRunEvents.ListenAsync(app.Factory.Services.GetRequiredService<IBus>());
        var (metricId, evaluationId) = app.AddAlignableMetric();

        var (response, body) = await app.StartAsync(new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 2, reflectionProvider = "local" });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        var runId = Guid.Parse((string)body["id"]!);
        var run = await app.WaitForSettledAsync(runId);

        ((string?)run["status"]).Should().Be("aligned", run.ToJsonString());
        var usage = run["tokenUsage"]!;
        var aligned = await events.WaitForAsync<AlignmentRunAligned>(e => e.RunId == runId);
        aligned.PromptTokens.Should().Be((long)usage["total"]!["promptTokens"]!).And.BeGreaterThan(0);
        aligned.CompletionTokens.Should().Be((long)usage["total"]!["completionTokens"]!).And.BeGreaterThan(0);
        aligned.TotalTokens.Should().Be(aligned.PromptTokens + aligned.CompletionTokens);
        // The scripted merge call reports 400 prompt and 90 completion tokens.
        aligned.PromptTokensPerPhase.Should().Contain("reflection.merge", 400);
        aligned.CompletionTokensPerPhase.Should().Contain("reflection.merge", 90);
        aligned.PromptTokensPerPhase!["reflection.batch"].Should().Be((long)usage["perPhase"]!["reflection.batch"]!["promptTokens"]!);
        aligned.CompletionTokensPerPhase!["reflection.batch"].Should().Be((long)usage["perPhase"]!["reflection.batch"]!["completionTokens"]!);
    }

    [Fact]
    public async Task A_run_that_fails_while_distilling_keeps_the_tokens_it_spent_on_the_run_and_in_its_failed_event()
    {
        await using var events = await PublishedRunEvents.ListenAsync(app.Factory.Services.GetRequiredService<IBus>());
        var (metricId, evaluationId) = app.AddAlignableMetric();
        var script = ReflectionData.Script();
        // The batch calls succeed (1200 prompt + 150 completion tokens each); the merge call is refused by the server.
        app.Override = request => request.SchemaName == "merged_guidelines"
            ? ScriptedResponse.Error(400, "This model's maximum context length was exceeded.")
            : script(request);
        try
        {
            var (response, body) = await app.StartAsync(new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 2, reflectionProvider = "local" });
            response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
            var runId = Guid.Parse((string)body["id"]!);
            var run = await app.WaitForSettledAsync(runId);

            ((string?)run["status"]).Should().Be("error", run.ToJsonString());
            ((string?)run["error"]!["phase"]).Should().Be("distilling_guidelines");
            var batch = run["tokenUsage"]!["perPhase"]!["reflection.batch"]!;
            var batchCalls = (int)batch["calls"]!;
            batchCalls.Should().BeGreaterThan(0, run.ToJsonString());
            ((long)batch["promptTokens"]!).Should().Be(1200L * batchCalls);
            ((long)batch["completionTokens"]!).Should().Be(150L * batchCalls);
            run["tokenUsage"]!["perPhase"]!["reflection.merge"].Should().BeNull("the refused merge call cost nothing");
            ((long)run["tokenUsage"]!["total"]!["totalTokens"]!).Should().Be(1350L * batchCalls);

            var failed = await events.WaitForAsync<AlignmentRunFailed>(e => e.RunId == runId);
            failed.Phase.Should().Be("distilling_guidelines");
            failed.TotalTokens.Should().Be(1350L * batchCalls);
            failed.PromptTokens.Should().Be(1200L * batchCalls);
            failed.CompletionTokens.Should().Be(150L * batchCalls);
            failed.TokensPerPhase.Should().Equal(new Dictionary<string, long> { ["reflection.batch"] = 1350L * batchCalls });
            failed.PromptTokensPerPhase.Should().Equal(new Dictionary<string, long> { ["reflection.batch"] = 1200L * batchCalls });
            failed.CompletionTokensPerPhase.Should().Equal(new Dictionary<string, long> { ["reflection.batch"] = 150L * batchCalls });
        }
        finally
        {
            app.Override = null;
        }
    }
}

/// <summary>A run cancelled while its model calls are under way keeps what the finished calls cost.</summary>
public sealed class Token_usage_of_cancelled_llm_runs(LlmAlignmentAppFixture app) : IClassFixture<LlmAlignmentAppFixture>
{
    [Fact]
    public async Task A_run_cancelled_while_distilling_keeps_the_tokens_of_the_calls_that_finished()
    {
        var (metricId, evaluationId) = app.AddAlignableMetric();
        var script = ReflectionData.Script();
        // The batch calls answer; the merge call hangs until the cancelled worker gives up on it.
        app.Override = request => request.SchemaName == "merged_guidelines"
            ? script(request) with { Delay = TimeSpan.FromMinutes(5) }
            : script(request);
        app.Server.SkipReceived();
        try
        {
            var (response, body) = await app.StartAsync(new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 2, reflectionProvider = "local" });
            response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
            var runId = Guid.Parse((string)body["id"]!);
            await app.Server.NextRequestAsync(request => request.SchemaName == "merged_guidelines", TimeSpan.FromSeconds(60));

            using (var cancel = await app.Client.PostAsync($"/api/alignment-runs/{runId}/cancel", null))
                cancel.StatusCode.Should().Be(HttpStatusCode.Accepted);

            var run = await app.WaitForRunAsync(runId, r => r["tokenUsage"] is not null, TimeSpan.FromSeconds(30));

            ((string?)run["status"]).Should().Be("cancelled", run.ToJsonString());
            var batch = run["tokenUsage"]!["perPhase"]!["reflection.batch"]!;
            var batchCalls = (int)batch["calls"]!;
            batchCalls.Should().BeGreaterThan(0, run.ToJsonString());
            ((long)batch["promptTokens"]!).Should().Be(1200L * batchCalls);
            run["tokenUsage"]!["perPhase"]!["reflection.merge"].Should().BeNull("the merge call was cut short and cost nothing");
            ((long)run["tokenUsage"]!["total"]!["totalTokens"]!).Should().Be(1350L * batchCalls);
        }
        finally
        {
            app.Override = null;
        }
    }
}

/// <summary>
/// The Alignment service with an LLM provider "local" on a scripted loopback server and a run token budget of 5,000
/// (Alignment:Reflection:TokenBudgetPerRun), on its own database and RabbitMQ vhost.
/// </summary>
public sealed class TokenBudgetAppFixture : IAsyncLifetime
{
    public const long Budget = 5000;

    IsolatedAlignmentApp app = null!;
    public ScriptedOpenAiServer Server { get; private set; } = null!;
    public WebApplicationFactory<Program> Factory => app.Factory;
    public HttpClient Client => app.Client;
    public FakeMetricsClient Metrics { get; } = new();
    public FakeAnnotationsClient Annotations { get; } = new();

    public async Task InitializeAsync()
    {
        var script = ReflectionData.Script();
        // A batch call fits the budget when it is sent (its counted prompt plus 2,000 completion tokens), but the server
        // then reports 5,000 prompt tokens for it: the merge call that follows cannot fit any more.
        Server = await ScriptedOpenAiServer.StartAsync(request => request.SchemaName == "candidate_guidelines"
            ? ScriptedResponse.Json(ReflectionData.Candidates(request), promptTokens: 5000, completionTokens: 150)
            : script(request));
        app = await IsolatedAlignmentApp.StartAsync("budget", Metrics, Annotations, new()
        {
            ["Alignment:Worker:HeartbeatInterval"] = "00:00:01",
            ["Alignment:Providers:local:Endpoint"] = Server.Endpoint.ToString(),
            ["Alignment:Providers:local:ApiKey"] = "sk-test-budget",
            ["Alignment:Providers:local:DefaultModel"] = "gpt-4o-mini",
            ["Alignment:Providers:local:TimeoutSeconds"] = "10",
            ["Alignment:Providers:local:RetryBaseDelaySeconds"] = "0.01",
            ["Alignment:Reflection:TokenBudgetPerRun"] = Budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
    }

    public async Task DisposeAsync()
    {
        await app.DisposeAsync();
        await Server.DisposeAsync();
    }

    public Task<JsonNode> WaitForSettledAsync(Guid id) => app.WaitForSettledAsync(id);
}

public sealed class A_run_over_its_token_budget(TokenBudgetAppFixture app) : IClassFixture<TokenBudgetAppFixture>
{
    [Fact]
    public async Task Ends_in_error_while_distilling_naming_the_budget_without_sending_the_call_that_would_exceed_it()
    {
        await using var events = await PublishedRunEvents.ListenAsync(app.Factory.Services.GetRequiredService<IBus>());
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        app.Annotations.Rows[metric.Id] = ct => FakeAnnotationsClient.SixRows(metric.Id, evaluation.EvaluationId, ct);

        var response = await app.Client.PostAsJsonAsync("/api/alignment-runs",
            new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2, reflectionProvider = "local" });
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        var runId = Guid.Parse((string)body["id"]!);
        var run = await app.WaitForSettledAsync(runId);

        ((string?)run["status"]).Should().Be("error", run.ToJsonString());
        ((string?)run["error"]!["phase"]).Should().Be("distilling_guidelines");
        ((string?)run["error"]!["detail"]).Should().Contain("token budget of 5,000 tokens").And.Contain("Alignment:Reflection:TokenBudgetPerRun");
        app.Server.Requests.Should().NotContain(r => r.SchemaName == "merged_guidelines", "a call that could exceed the budget is refused before it is sent");
        ((long)run["tokenUsage"]!["budget"]!).Should().Be(TokenBudgetAppFixture.Budget);
        ((long)run["tokenUsage"]!["total"]!["promptTokens"]!).Should().BeGreaterThanOrEqualTo(5000, "the batch call's tokens stay on the failed run");

        var failed = await events.WaitForAsync<AlignmentRunFailed>(e => e.RunId == runId);
        failed.Detail.Should().Contain("token budget of 5,000 tokens");
        failed.TotalTokens.Should().Be((long)run["tokenUsage"]!["total"]!["totalTokens"]!);
    }
}
