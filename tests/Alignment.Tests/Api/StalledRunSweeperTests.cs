using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MetricAlignment.Alignment.Tests.Api;

[Collection(AlignmentAppCollection.Name)]
public sealed class When_a_run_stops_making_progress(AlignmentAppFixture app)
{
    [Fact]
    public async Task The_sweeper_fails_it_saying_the_worker_stopped_responding()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        var streaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        app.Annotations.Rows[metric.Id] = ct => Hanging(metric.Id, evaluation.EvaluationId, streaming, stopped, ct);
        var (_, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });
        var runId = Guid.Parse((string)body["id"]!);
        await streaming.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The worker reports its phase by message; sweep only once the saga has recorded it.
        await app.WaitForRunAsync(runId, r => (string?)r["status"] == "running" && (string?)r["phase"] == "loading_annotations");
        var sweeper = app.Factory.Services.GetServices<IHostedService>().OfType<StalledRunSweeper>().Single();

        // Any silence counts as a stall with a zero timeout: this run is the only one still running.
        (await sweeper.SweepAsync(TimeSpan.Zero, CancellationToken.None)).Should().BeGreaterThan(0);
        var run = await app.WaitForStatusAsync(runId, "error");

        ((string?)run["status"]).Should().Be("error");
        ((string?)run["error"]!["phase"]).Should().Be("loading_annotations");
        ((string?)run["error"]!["detail"]).Should().Contain("worker stopped responding");
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    static async IAsyncEnumerable<ResolvedRow> Hanging(Guid metricId, Guid evaluationId, TaskCompletionSource streaming,
        TaskCompletionSource stopped, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return FakeAnnotationsClient.Row(metricId, evaluationId, 5, 1);
        streaming.TrySetResult();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        finally
        {
            // The failed run's work on this instance stops too.
            stopped.TrySetResult();
        }
    }
}
