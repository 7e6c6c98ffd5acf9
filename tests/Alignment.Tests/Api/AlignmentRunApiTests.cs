using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using MassTransit;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Alignment.Tests.Api;

[Collection(AlignmentAppCollection.Name)]
public sealed class Starting_an_alignment_run(AlignmentAppFixture app)
{
    [Fact]
    public async Task A_request_without_metric_or_evaluations_is_refused_naming_both_fields()
    {
        var (response, body) = await app.StartAsync(new { });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        body["errors"]!.AsObject().Select(e => e.Key).Should().Contain(["metricId", "evaluationIds"]);
    }

    [Fact]
    public async Task An_unknown_metric_is_404()
    {
        var (response, _) = await app.StartAsync(new { metricId = Guid.NewGuid(), evaluationIds = new[] { Guid.NewGuid() } });

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Unfinished_or_unknown_evaluations_and_a_threshold_outside_the_scale_are_refused()
    {
        var metric = app.Metrics.Add();
        var running = app.Annotations.AddEvaluation(metric.Id, status: "running");
        var unresolved = app.Annotations.AddEvaluation(metric.Id, resolved: 0);

        var (response, body) = await app.StartAsync(new
        {
            metricId = metric.Id, evaluationIds = new[] { running.EvaluationId, unresolved.EvaluationId, Guid.NewGuid() }, deltaThreshold = 4.5,
        });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var errors = body["errors"]!.AsObject();
        errors["evaluationIds"]!.AsArray().Should().HaveCount(3);
        errors["deltaThreshold"]!.AsArray().Single()!.GetValue<string>().Should().Contain("at most 4");
    }

    [Fact]
    public async Task An_unknown_reflection_provider_is_refused_naming_the_known_ones()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);

        var (response, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, reflectionProvider = "oracle" });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var message = body["errors"]!["reflectionProvider"]!.AsArray().Single()!.GetValue<string>();
        message.Should().Contain("Unknown provider 'oracle'").And.Contain("'builtin'");
    }

    [Fact]
    public async Task A_model_for_the_builtin_distiller_is_refused_on_reflection_model()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);

        var (response, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, reflectionModel = "gpt-4o" });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        body["errors"]!["reflectionModel"].Should().NotBeNull();
        body["errors"]!["reflectionProvider"].Should().BeNull();
    }

    [Fact]
    public async Task A_builtin_judge_is_refused_because_it_cannot_score_rows()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);

        var (response, body) = await app.StartAsync(new
        {
            metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, judgeProvider = "builtin", judgeModel = "gpt-4o-mini",
        });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        body["errors"]!["judgeProvider"]!.AsArray().Single()!.GetValue<string>().Should().Contain("cannot score rows");
    }

    [Fact]
    public async Task A_judge_model_without_a_judge_provider_falls_to_the_builtin_default_and_is_refused()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);

        var (response, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, judgeModel = "gpt-4o-mini" });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        body["errors"]!["judgeProvider"].Should().NotBeNull();
    }

    [Fact]
    public async Task A_valid_run_is_accepted_and_reaches_aligned_with_the_builtin_distiller()
    {
        var (metric, runId) = await app.StartAlignableRunAsync();

        var run = await app.WaitForStatusAsync(runId, "aligned");

        ((string?)run["status"]).Should().Be("aligned", run.ToJsonString());
        ((string?)run["metric"]!["key"]).Should().Be(metric.Key);
        ((string?)run["options"]!["reflectionProvider"]).Should().Be("builtin");
        ((int)run["counts"]!["rowsLoaded"]!).Should().Be(6);
        ((int)run["counts"]!["disagreements"]!).Should().Be(3);
        run["refinedPrompt"]!["systemPrompt"].Should().NotBeNull();
        run["phases"]!.AsArray().Select(p => (string?)p!["phase"]).Should()
            .Equal("loading_annotations", "building_disagreement_traces", "distilling_guidelines", "finalizing");
        run["phases"]!.AsArray().Should().OnlyContain(p => p!["endedAt"] != null);
        ((string?)run["attempts"]![0]!["result"]).Should().Be("aligned");
        ((long)run["tokenUsage"]!["total"]!["totalTokens"]!).Should().Be(0, "the built-in distiller calls no model");
        run["verification"].Should().BeNull();
    }

    [Fact]
    public async Task The_202_names_the_run_location()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        var response = await app.Client.PostAsJsonAsync("/api/alignment-runs", new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        response.Headers.Location!.ToString().Should().Be($"/api/alignment-runs/{(string)body["id"]!}");
        ((double)body["options"]!["deltaThreshold"]!).Should().Be(1, "the default threshold on a 1..5 scale is one point");
    }
}

[Collection(AlignmentAppCollection.Name)]
public sealed class Reading_alignment_runs(AlignmentAppFixture app)
{
    [Fact]
    public async Task A_metrics_history_lists_its_runs_newest_first()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (_, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });
            ids.Add((string)body["id"]!);
        }

        var history = JsonNode.Parse(await app.Client.GetStringAsync($"/api/metrics/{metric.Id}/alignment-runs"))!.AsArray();

        history.Select(r => (string?)r!["id"]).Should().Equal(ids[2], ids[1], ids[0]);
    }

    [Fact]
    public async Task The_history_pages_run_summaries_by_a_cursor_and_keeps_the_detail_for_the_single_run()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (_, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });
            ids.Add((string)body["id"]!);
        }

        using var first = await app.Client.GetAsync($"/api/metrics/{metric.Id}/alignment-runs?limit=2");
        var page = JsonNode.Parse(await first.Content.ReadAsStringAsync())!.AsArray();
        page.Select(r => (string?)r!["id"]).Should().Equal(ids[2], ids[1]);
        first.Headers.GetValues("Link").Should().ContainSingle().Which.Should()
            .Be($"</api/metrics/{metric.Id}/alignment-runs?limit=2&before={ids[1]}>; rel=\"next\"");
        var summary = page[0]!.AsObject();
        summary.Select(p => p.Key).Should().Contain(["id", "status", "metric", "options", "counts", "createdAt", "updatedAt"])
            .And.NotContain(["statistics", "guidelines", "guidelinesText", "refinedPrompt", "attempts", "phases", "tokenUsage", "warnings"]);
        ((string?)summary["options"]!["evaluationIds"]![0]).Should().Be(evaluation.EvaluationId.ToString());

        using var second = await app.Client.GetAsync($"/api/metrics/{metric.Id}/alignment-runs?limit=2&before={ids[1]}");
        JsonNode.Parse(await second.Content.ReadAsStringAsync())!.AsArray().Select(r => (string?)r!["id"]).Should().Equal(ids[0]);
        second.Headers.Contains("Link").Should().BeFalse("a page shorter than the limit is the last one");

        var full = JsonNode.Parse(await app.Client.GetStringAsync($"/api/alignment-runs/{ids[0]}"))!.AsObject();
        full.Select(p => p.Key).Should().Contain(["guidelines", "attempts", "phases"]);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("before=not-a-guid", "before")]
    [InlineData("before=6f1f4b0e-8e0a-4d35-a1a3-3c2b1d0e9f88", "before")]
    public async Task A_bad_history_page_request_is_400_naming_the_parameter(string query, string field)
    {
        var metric = app.Metrics.Add();

        using var response = await app.Client.GetAsync($"/api/metrics/{metric.Id}/alignment-runs?{query}");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!["errors"]![field].Should().NotBeNull();
    }

    [Fact]
    public async Task An_unknown_run_is_404()
    {
        (await app.Client.GetAsync($"/api/alignment-runs/{Guid.NewGuid()}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Eligible_evaluations_are_proxied_from_the_annotations_service()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);

        var list = JsonNode.Parse(await app.Client.GetStringAsync($"/api/metrics/{metric.Id}/eligible-evaluations"))!.AsArray();

        list.Select(e => (string?)e!["evaluationId"]).Should().Equal(evaluation.EvaluationId.ToString());
    }
}

[Collection(AlignmentAppCollection.Name)]
public sealed class Cancelling_and_failing_runs(AlignmentAppFixture app)
{
    [Fact]
    public async Task Cancelling_a_finished_run_says_it_had_no_effect()
    {
        var (_, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");

        var response = await app.Client.PostAsync($"/api/alignment-runs/{runId}/cancel", null);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        ((bool)body["changed"]!).Should().BeFalse();
        ((string?)body["reason"]).Should().Contain("aligned");
        ((string?)(await app.GetRunAsync(runId))["status"]).Should().Be("aligned");
    }

    [Fact]
    public async Task Cancelling_a_run_mid_phase_stops_its_work_within_seconds()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        var streaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        app.Annotations.Rows[metric.Id] = ct => Endless(metric.Id, evaluation.EvaluationId, streaming, stopped, ct);
        var (_, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });
        var runId = Guid.Parse((string)body["id"]!);
        await streaming.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var response = await app.Client.PostAsync($"/api/alignment-runs/{runId}/cancel", null);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var run = await app.WaitForStatusAsync(runId, "cancelled");
        ((string?)run["status"]).Should().Be("cancelled");
        ((string?)run["attempts"]![0]!["result"]).Should().Be("cancelled");
    }

    static async IAsyncEnumerable<ResolvedRow> Endless(Guid metricId, Guid evaluationId, TaskCompletionSource streaming, TaskCompletionSource stopped,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return FakeAnnotationsClient.Row(metricId, evaluationId, 5, 1);
        streaming.TrySetResult();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        finally
        {
            stopped.TrySetResult();
        }
    }

    [Fact]
    public async Task A_failing_phase_puts_the_run_in_error_with_the_phase_and_a_retry_starts_a_second_attempt()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        app.Annotations.Rows[metric.Id] = ct => Failing(metric.Id, evaluation.EvaluationId);
        var (_, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        var runId = Guid.Parse((string)body["id"]!);

        var failed = await app.WaitForStatusAsync(runId, "error");

        ((string?)failed["status"]).Should().Be("error", failed.ToJsonString());
        ((string?)failed["error"]!["phase"]).Should().Be("loading_annotations");
        ((string?)failed["error"]!["detail"]).Should().Contain("answered 500");

        app.Annotations.Rows[metric.Id] = ct => FakeAnnotationsClient.SixRows(metric.Id, evaluation.EvaluationId, ct);
        (await app.Client.PostAsync($"/api/alignment-runs/{runId}/retry", null)).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var aligned = await app.WaitForStatusAsync(runId, "aligned");

        ((int)aligned["attempt"]!).Should().Be(2);
        aligned["attempts"]!.AsArray().Select(a => (string?)a!["result"]).Should().Equal("error", "aligned");
        aligned["error"].Should().BeNull();
    }

    static async IAsyncEnumerable<ResolvedRow> Failing(Guid metricId, Guid evaluationId)
    {
        yield return FakeAnnotationsClient.Row(metricId, evaluationId, 5, 1);
        await Task.Yield();
        throw new DependencyFailedException("The Annotations service answered 500 Internal Server Error when asked for the resolved rows.");
    }

    [Fact]
    public async Task Retrying_a_run_that_is_not_in_error_is_a_conflict()
    {
        var (_, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");

        (await app.Client.PostAsync($"/api/alignment-runs/{runId}/retry", null)).StatusCode.Should().Be(HttpStatusCode.Conflict);
    }
}

[Collection(AlignmentAppCollection.Name)]
public sealed class Accepting_and_discarding_runs(AlignmentAppFixture app)
{
    [Fact]
    public async Task Accepting_a_built_in_metric_run_forks_it_once_and_a_second_accept_is_a_conflict()
    {
        var (metric, runId) = await app.StartAlignableRunAsync("built_in");
        await app.WaitForStatusAsync(runId, "aligned");
        var fork = Guid.NewGuid();
        var requests = 0;
        var bus = app.Factory.Services.GetRequiredService<IBus>();
        var endpoint = bus.ConnectReceiveEndpoint($"fake-metrics-{Guid.NewGuid():N}", e => e.Handler<CreateMetricFork>(async context =>
        {
            if (context.Message.RunId != runId) return;
            Interlocked.Increment(ref requests);
            await context.RespondAsync(new MetricForkCreated
            {
                RunId = runId, SourceMetricId = metric.Id, SourceVersion = context.Message.BaseVersion, NewMetricId = fork,
                NewMetricKey = "faithfulness-aligned", NewMetricName = context.Message.Name ?? "fork", NewVersion = 1, CreatedAt = DateTimeOffset.UtcNow,
            });
        }));
        await endpoint.Ready;
        try
        {
            var response = await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { forkName = "Faithfulness (aligned)" });
            response.StatusCode.Should().Be(HttpStatusCode.Accepted);

            var run = await app.WaitForStatusAsync(runId, "accepted");
            ((string?)run["outcome"]!["decision"]).Should().Be("forked", run.ToJsonString());
            ((string?)run["outcome"]!["metricId"]).Should().Be(fork.ToString());

            (await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { })).StatusCode.Should().Be(HttpStatusCode.Conflict);
            (await app.Client.PostAsync($"/api/alignment-runs/{runId}/discard", null)).StatusCode.Should().Be(HttpStatusCode.Conflict);
            requests.Should().Be(1);
        }
        finally
        {
            await endpoint.StopAsync();
        }
    }

    [Fact]
    public async Task Accepting_a_custom_metric_that_gained_a_version_is_a_conflict_naming_both_versions()
    {
        var (metric, runId) = await app.StartAlignableRunAsync("custom");
        await app.WaitForStatusAsync(runId, "aligned");
        app.Metrics.Metrics[metric.Id] = metric with { CurrentVersion = 2, Current = metric.Current with { Version = 2 } };

        var response = await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { });

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        ((string?)problem["detail"]).Should().Contain("version 2").And.Contain("version 1");
        ((string?)(await app.GetRunAsync(runId))["status"]).Should().Be("aligned");
    }

    [Fact]
    public async Task Accepting_a_run_that_is_not_aligned_is_a_conflict()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        var (_, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });
        var runId = Guid.Parse((string)body["id"]!);
        // No rows: the attempt fails, so the run is never aligned.
        await app.WaitForStatusAsync(runId, "error");

        (await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { })).StatusCode.Should().Be(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Discarding_an_aligned_run_closes_it()
    {
        var (_, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");

        (await app.Client.PostAsync($"/api/alignment-runs/{runId}/discard", null)).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var run = await app.WaitForStatusAsync(runId, "discarded");

        ((string?)run["outcome"]!["decision"]).Should().Be("discarded");
    }
}
