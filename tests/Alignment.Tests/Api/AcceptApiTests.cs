using System.Collections.Concurrent;
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
public sealed class Accepting_a_run_over_http(AlignmentAppFixture app)
{
    [Fact]
    public async Task Accepting_an_aligned_run_without_disagreements_is_a_409_problem_saying_there_is_nothing_to_accept()
    {
        var metric = app.Metrics.Add("custom");
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        app.Annotations.Rows[metric.Id] = ct => AgreeingRows(metric.Id, evaluation.EvaluationId, ct);
        var (started, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 1 });
        started.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        var runId = Guid.Parse((string)body["id"]!);
        var aligned = await app.WaitForStatusAsync(runId, "aligned");
        ((string?)aligned["status"]).Should().Be("aligned", aligned.ToJsonString());

        var response = await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { });

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        ((string?)problem["title"]).Should().Be("Nothing to accept");
        ((string?)problem["detail"]).Should().Contain("no disagreements");
        ((int?)problem["status"]).Should().Be(409);
        var run = await app.GetRunAsync(runId);
        ((string?)run["status"]).Should().Be("aligned", "a refused accept leaves the run as it was");
        run["outcome"].Should().BeNull();
    }

    [Fact]
    public async Task Overriding_a_newer_version_of_a_custom_metric_is_accepted_and_the_run_ends_with_the_version_after_it()
    {
        var (metric, runId) = await app.StartAlignableRunAsync("custom");
        await app.WaitForStatusAsync(runId, "aligned");
        // Someone published version 2 by hand while the run aligned version 1.
        app.Metrics.Metrics[metric.Id] = metric with { CurrentVersion = 2, Current = metric.Current with { Version = 2 } };
        var requests = new ConcurrentQueue<CreateMetricVersion>();
        var bus = app.Factory.Services.GetRequiredService<IBus>();
        var endpoint = bus.ConnectReceiveEndpoint($"fake-metrics-{Guid.NewGuid():N}", e => e.Handler<CreateMetricVersion>(async context =>
        {
            if (context.Message.RunId != runId) return;
            requests.Enqueue(context.Message);
            await context.RespondAsync(new MetricVersionCreated
            {
                RunId = runId, MetricId = metric.Id, MetricKey = metric.Key, PreviousVersion = 2, NewVersion = 3, CreatedAt = DateTimeOffset.UtcNow,
            });
        }));
        await endpoint.Ready;
        try
        {
            var response = await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { overrideNewerVersion = true });

            response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
            var run = await app.WaitForStatusAsync(runId, "accepted");
            ((string?)run["status"]).Should().Be("accepted", run.ToJsonString());
            ((string?)run["outcome"]!["decision"]).Should().Be("versioned");
            ((string?)run["outcome"]!["metricId"]).Should().Be(metric.Id.ToString());
            ((int?)run["outcome"]!["version"]).Should().Be(3);
            var request = requests.Should().ContainSingle().Subject;
            request.OverrideNewerVersion.Should().BeTrue();
            request.ExpectedCurrentVersion.Should().Be(1, "the run aligned version 1");
        }
        finally
        {
            await endpoint.StopAsync();
        }
    }

    /// <summary>Six rows on which the judge and the humans agree exactly.</summary>
    static async IAsyncEnumerable<ResolvedRow> AgreeingRows(Guid metricId, Guid evaluationId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var score in new[] { 5.0, 4.0, 3.0, 2.0, 1.0, 4.0 })
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return FakeAnnotationsClient.Row(metricId, evaluationId, score, score);
        }
    }
}
