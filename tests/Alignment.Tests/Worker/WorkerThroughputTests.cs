using System.Collections.Concurrent;
using System.Net.Http.Json;
using MassTransit;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Tests.Api;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MetricAlignment.Alignment.Tests.Worker;

/// <summary>Every AlignmentRunProgressed the saga received (a bus-wide consume observer sees every receive endpoint).</summary>
public sealed class ProgressReports : IConsumeObserver
{
    public ConcurrentQueue<AlignmentRunProgressed> Received { get; } = new();
    /// <summary>Every other message about a run the saga consumed, by type name: what a run costs the saga besides its reports.</summary>
    public ConcurrentQueue<(Guid RunId, string Type)> Others { get; } = new();

    public Task PreConsume<T>(ConsumeContext<T> context) where T : class
    {
        if (context.Message is AlignmentRunProgressed progressed) Received.Enqueue(progressed);
        else if (context.Message is AlignmentRunExecutionStarted started) Others.Enqueue((started.RunId, nameof(AlignmentRunExecutionStarted)));
        else if (context.Message is AlignmentRunCompleted completed) Others.Enqueue((completed.RunId, nameof(AlignmentRunCompleted)));
        return Task.CompletedTask;
    }

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}

/// <summary>What a short run costs the saga: one progress report per phase, and several runs per instance at once.</summary>
public sealed class The_worker_of_short_runs : IAsyncLifetime
{
    readonly FakeMetricsClient metrics = new();
    readonly FakeAnnotationsClient annotations = new();
    readonly ProgressReports reports = new();
    IsolatedAlignmentApp app = null!;

    // No heartbeat during the test: every report counted is one the phases sent.
    public async Task InitializeAsync() =>
        app = await IsolatedAlignmentApp.StartAsync("worker", metrics, annotations, new() { ["Alignment:Worker:HeartbeatInterval"] = "01:00:00" },
            factory: service => service.WithWebHostBuilder(web => web.ConfigureTestServices(services => services.AddConsumeObserver(_ => reports))));

    public async Task DisposeAsync() => await app.DisposeAsync();

    [Fact]
    public async Task A_run_smaller_than_a_progress_step_reports_each_phase_once_with_its_rows_in_the_next_phase_and_finalizing_with_its_result()
    {
        var metric = metrics.Add();
        var evaluation = annotations.AddEvaluation(metric.Id);
        annotations.Rows[metric.Id] = ct => FakeAnnotationsClient.SixRows(metric.Id, evaluation.EvaluationId, ct);
        var response = await app.Client.PostAsJsonAsync("/api/alignment-runs",
            new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        var runId = Guid.Parse((string)System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!);

        var run = await app.WaitForRunAsync(runId, r => (string?)r["status"] == "aligned");

        ((string?)run["status"]).Should().Be("aligned", run.ToJsonString());
        var runReports = reports.Received.Where(r => r.RunId == runId).ToList();
        // As a set: the saga endpoint takes several messages at once, so the observer may see two reports in either order.
        runReports.Select(r => r.Phase).Should().BeEquivalentTo(
            [RunPhase.LoadingAnnotations, RunPhase.BuildingDisagreementTraces, RunPhase.DistillingGuidelines],
            "the end of loading is announced by the next phase's report, and finalizing by the result, not by reports of their own");
        runReports.Where(r => r.Phase != RunPhase.LoadingAnnotations).Should()
            .OnlyContain(r => r.RowsLoaded == 6, "the reports after loading carry every row loaded");
        reports.Others.Where(o => o.RunId == runId).Select(o => o.Type).Should().Equal([nameof(AlignmentRunCompleted)],
            "the first report starts the run, so the worker sends no separate execution-started message");
        ((int)run["counts"]!["rowsLoaded"]!).Should().Be(6);
        run["phases"]!.AsArray().Select(p => (string?)p!["phase"]).Should()
            .Equal("loading_annotations", "building_disagreement_traces", "distilling_guidelines", "finalizing");
    }

    [Fact]
    public void An_instance_takes_as_many_runs_from_the_queue_as_it_executes_at_once_and_that_is_more_than_two_by_default()
    {
        var options = app.Factory.Services.GetRequiredService<IOptions<WorkerOptions>>();

        var definition = new ExecuteAlignmentRunConsumerDefinition(options);

        options.Value.ConcurrentRuns.Should().Be(8);
        definition.ConcurrentMessageLimit.Should().Be(options.Value.ConcurrentRuns);
    }
}

