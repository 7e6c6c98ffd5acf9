extern alias alignment;
extern alias metrics;

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using alignment::MetricAlignment.Alignment.Clients;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using AlignmentProgram = alignment::Program;
using MetricsProgram = metrics::Program;

namespace MetricAlignment.Observability.Tests;

/// <summary>
/// The Alignment service and the real Metrics service in one process on one vhost (Annotations faked), so the spans of
/// both hosts can be collected together and compared. Metrics listens on a real port (Kestrel) and the worker calls it
/// with a plain HttpClient, so its calls are traced as in production: a client span, and the trace context in the headers.
/// </summary>
public sealed class One_trace_per_run : IAsyncLifetime
{
    readonly SpanCollector spans = new();
    readonly MeasurementCollector measurements = new();
    readonly FakeAnnotations annotations = new();
    readonly LogCollector logs = new();
    string alignmentDatabase = null!;
    string metricsDatabase = null!;
    string virtualHost = null!;
    WebApplicationFactory<MetricsProgram> metricsService = null!;
    WebApplicationFactory<AlignmentProgram> alignmentService = null!;
    HttpClient alignment = null!;
    HttpClient metricsApi = null!;

    public async Task InitializeAsync()
    {
        alignmentDatabase = await TestInfrastructure.CreateDatabaseAsync("obs_alignment");
        metricsDatabase = await TestInfrastructure.CreateDatabaseAsync("obs_metrics");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("observability");
        metricsService = new WebApplicationFactory<MetricsProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:metricsdb", metricsDatabase);
            web.UseSetting("ConnectionStrings:messaging", virtualHost);
        });
        metricsService.UseKestrel(0);
        metricsService.StartServer();
        var metricsAddress = new Uri(metricsService.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        metricsApi = new HttpClient { BaseAddress = metricsAddress }.As(Roles.Admin);
        (await metricsApi.GetAsync("/health")).EnsureSuccessStatusCode();

        alignmentService = new WebApplicationFactory<AlignmentProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:alignmentdb", alignmentDatabase);
            web.UseSetting("ConnectionStrings:messaging", virtualHost);
            web.ConfigureLogging(logging => logging.AddProvider(logs));
            web.ConfigureTestServices(services =>
            {
                services.RemoveAll<IMetricsClient>();
                services.RemoveAll<IAnnotationsClient>();
                // The real Metrics service answers the metric look-ups, to the worker's service token; only Annotations is faked.
                services.AddSingleton<IMetricsClient>(new MetricsClient(new HttpClient { BaseAddress = metricsAddress }.AsService(TestTokens.Workspace)));
                services.AddSingleton<IAnnotationsClient>(annotations);
            });
        });
        alignment = alignmentService.CreateClient().As(Roles.Admin);
        (await alignment.GetAsync("/health")).EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        alignment.Dispose();
        metricsApi.Dispose();
        await alignmentService.DisposeAsync();
        await metricsService.DisposeAsync();
        spans.Dispose();
        measurements.Dispose();
        await TestInfrastructure.DropDatabaseAsync(alignmentDatabase);
        await TestInfrastructure.DropDatabaseAsync(metricsDatabase);
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }

    [Fact]
    public async Task The_start_request_the_worker_phases_and_the_Metrics_service_applying_the_accept_share_one_trace()
    {
        var builtIns = await metricsApi.GetFromJsonAsync<JsonArray>("/api/metrics?kind=built_in");
        var metricId = Guid.Parse((string)builtIns!.First(m => (string?)m!["type"] == "quantitative")!["id"]!);
        var evaluation = annotations.AddEvaluation(metricId);

        var started = await alignment.PostAsJsonAsync("/api/alignment-runs",
            new { metricId, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        started.StatusCode.Should().Be(HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
        var runId = Guid.Parse((string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
        (await WaitForStatusAsync(runId, "aligned"))["status"]!.GetValue<string>().Should().Be("aligned");
        // Before the accept, whose own request looks the metric up again in a trace of its own.
        var metricLookups = spans.Spans.Where(s => s.Source.Name is "System.Net.Http" or "Microsoft.AspNetCore"
            && (s.GetTagItem("url.full") as string ?? s.GetTagItem("url.path") as string)?.EndsWith($"/api/metrics/{metricId}", StringComparison.Ordinal) == true).ToList();

        var accepted = await alignment.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { });
        accepted.StatusCode.Should().Be(HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
        (await WaitForStatusAsync(runId, "accepted"))["status"]!.GetValue<string>().Should().Be("accepted");

        var startRequest = await spans.WaitForAsync(s => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore"
            && s.GetTagItem("http.request.method") as string == "POST" && (s.GetTagItem("url.path") as string)?.TrimEnd('/') == "/api/alignment-runs",
            "the POST that started the run");
        var phases = new List<Activity>();
        foreach (var phase in new[] { "loading_annotations", "building_disagreement_traces", "distilling_guidelines", "finalizing" })
            phases.Add(await spans.WaitForAsync(s => s.OperationName == "alignment.phase" && Equals(s.GetTagItem(Telemetry.Tags.RunId), runId)
                && s.GetTagItem(Telemetry.Tags.Phase) as string == phase, $"worker phase {phase}"));
        var forkConsumed = await spans.WaitForAsync(s => s.Kind == ActivityKind.Consumer && s.Source.Name == "MassTransit"
            && SpanCollector.HasTagContaining(s, nameof(CreateMetricFork)) && Equals(s.GetTagItem(Telemetry.Tags.RunId), runId),
            "the Metrics service consuming CreateMetricFork");

        var startConsumedBySaga = await spans.WaitForAsync(s => s.Kind == ActivityKind.Consumer && s.Source.Name == "MassTransit"
            && SpanCollector.HasTagContaining(s, nameof(StartAlignmentRun)), "the saga consuming StartAlignmentRun");

        phases.Should().AllSatisfy(phase => phase.TraceId.Should().Be(startRequest.TraceId, SpanCollector.Describe(phase)));
        startConsumedBySaga.TraceId.Should().Be(startRequest.TraceId, SpanCollector.Describe(startConsumedBySaga));
        // The start request checks the metric and the worker loads it: a client span in Alignment and a server span in
        // Metrics for each, all in the run's trace (the worker's would start a trace of its own if its context were lost).
        metricLookups.Where(s => s.Kind == ActivityKind.Client).Should().HaveCountGreaterThanOrEqualTo(2, "the start request and the worker each look the metric up");
        metricLookups.Where(s => s.Kind == ActivityKind.Server).Should().HaveCountGreaterThanOrEqualTo(2);
        metricLookups.Should().AllSatisfy(lookup => lookup.TraceId.Should().Be(startRequest.TraceId, SpanCollector.Describe(lookup)));
        phases.Select(p => p.GetTagItem(Telemetry.Tags.Attempt)).Should().AllBeEquivalentTo(1);
        phases.Select(p => p.GetTagItem(Telemetry.Tags.MetricId)).Should().AllBeEquivalentTo(metricId);
        forkConsumed.TraceId.Should().Be(startRequest.TraceId, SpanCollector.Describe(forkConsumed));

        // The same run, measured: both outcomes counted, every phase timed, its three disagreements recorded.
        // An outcome is counted when the outbox publishes its event, a moment after the run's row shows it.
        var counting = Stopwatch.StartNew();
        var outcomes = measurements.Of("alignment.runs").Select(m => m.Tags[Telemetry.Tags.Outcome]).ToList();
        while (!(outcomes.Contains("aligned") && outcomes.Contains("accepted")) && counting.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
            outcomes = measurements.Of("alignment.runs").Select(m => m.Tags[Telemetry.Tags.Outcome]).ToList();
        }
        outcomes.Should().Contain(["aligned", "accepted"]);
        measurements.Of("alignment.phase.duration").Select(m => m.Tags[Telemetry.Tags.Phase]).Distinct().Should()
            .BeEquivalentTo(["loading_annotations", "building_disagreement_traces", "distilling_guidelines", "finalizing"]);
        measurements.Of("alignment.run.disagreements").Select(m => m.Value).Should().Contain(3);
    }

    [Fact]
    public async Task The_accept_request_keeps_its_own_trace_but_links_to_the_run()
    {
        var builtIns = await metricsApi.GetFromJsonAsync<JsonArray>("/api/metrics?kind=built_in");
        var metricId = Guid.Parse((string)builtIns!.First(m => (string?)m!["type"] == "quantitative")!["id"]!);
        var evaluation = annotations.AddEvaluation(metricId);
        var started = await alignment.PostAsJsonAsync("/api/alignment-runs",
            new { metricId, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        var runId = Guid.Parse((string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
        await WaitForStatusAsync(runId, "aligned");

        (await alignment.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { })).StatusCode.Should().Be(HttpStatusCode.Accepted);

        var acceptRequest = await spans.WaitForAsync(s => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore"
            && (s.GetTagItem("url.path") as string) == $"/api/alignment-runs/{runId}/accept", "the accept request");
        var accept = await spans.WaitForAsync(s => s.OperationName == "alignment.accept" && Equals(s.GetTagItem(Telemetry.Tags.RunId), runId),
            "the span continuing the run's trace");
        var phase = await spans.WaitForAsync(s => s.OperationName == "alignment.phase" && Equals(s.GetTagItem(Telemetry.Tags.RunId), runId), "a phase");

        accept.TraceId.Should().Be(phase.TraceId);
        acceptRequest.TraceId.Should().NotBe(phase.TraceId);
        accept.Links.Select(l => l.Context.SpanId).Should().Contain(acceptRequest.SpanId);
        acceptRequest.Links.Select(l => l.Context.SpanId).Should().Contain(accept.SpanId);
    }

    [Fact]
    public async Task The_workers_log_lines_for_a_run_carry_its_run_id_and_metric_id()
    {
        var builtIns = await metricsApi.GetFromJsonAsync<JsonArray>("/api/metrics?kind=built_in");
        var metricId = Guid.Parse((string)builtIns!.First(m => (string?)m!["type"] == "quantitative")!["id"]!);
        var evaluation = annotations.AddEvaluation(metricId);
        // A failing load makes the worker log a warning from inside the run's scope.
        annotations.FailRowsFor(metricId);

        var started = await alignment.PostAsJsonAsync("/api/alignment-runs",
            new { metricId, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        started.StatusCode.Should().Be(HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
        var runId = Guid.Parse((string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);

        var failure = await logs.WaitForAsync(l => l.Category.EndsWith("ExecuteAlignmentRunConsumer", StringComparison.Ordinal)
            && l.Level == LogLevel.Warning && l.Message.Contains(runId.ToString(), StringComparison.Ordinal), "the worker's warning about the failed load");

        failure.Scopes.Should().Contain("RunId", runId).And.Contain("MetricId", metricId).And.Contain("Attempt", 1);
    }

    async Task<JsonNode> WaitForStatusAsync(Guid runId, string status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (true)
        {
            var run = JsonNode.Parse(await alignment.GetStringAsync($"/api/alignment-runs/{runId}"))!;
            if ((string?)run["status"] == status || DateTime.UtcNow > deadline) return run;
            await Task.Delay(100);
        }
    }

    sealed class FakeAnnotations : IAnnotationsClient
    {
        readonly Dictionary<Guid, List<EligibleEvaluation>> eligible = new();
        readonly HashSet<Guid> failingRows = [];

        public void FailRowsFor(Guid metricId)
        {
            lock (failingRows) failingRows.Add(metricId);
        }

        public EligibleEvaluation AddEvaluation(Guid metricId)
        {
            var evaluation = new EligibleEvaluation
            {
                EvaluationId = Guid.NewGuid(), Name = "eval", Status = "completed", CreatedAt = DateTimeOffset.UtcNow, RowCount = 6, ResolvedRowCount = 6,
            };
            lock (eligible)
            {
                if (!eligible.TryGetValue(metricId, out var list)) eligible[metricId] = list = [];
                list.Add(evaluation);
            }
            return evaluation;
        }

        public Task<IReadOnlyList<EligibleEvaluation>> GetEligibleEvaluationsAsync(string workspace, Guid metricId, CancellationToken cancellationToken)
        {
            lock (eligible)
                return Task.FromResult<IReadOnlyList<EligibleEvaluation>>(
                    workspace == TestTokens.Workspace && eligible.TryGetValue(metricId, out var list) ? list.ToList() : []);
        }

        /// <summary>Six rows, three of them with the judge two points above the humans.</summary>
        public async IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(string workspace, Guid metricId, IReadOnlyList<Guid> evaluationIds,
            [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (workspace != TestTokens.Workspace) throw new InvalidOperationException($"Rows were asked for in workspace '{workspace}', not the run's.");
            lock (failingRows)
                if (failingRows.Contains(metricId)) throw new HttpRequestException("The Annotations service is unavailable (test).");
            foreach (var (judge, human) in new[] { (5.0, 3.0), (4.0, 4.0), (5.0, 2.0), (3.0, 3.0), (4.0, 2.0), (2.0, 2.0) })
            {
                await Task.Yield();
                yield return new ResolvedRow
                {
                    RowId = Guid.NewGuid(), EvaluationId = evaluationIds[0], Input = new RowInput { Text = "Summarise the article." },
                    Output = "A summary.", MetricId = metricId, MetricKey = "faithfulness", JudgeScore = judge, ResolvedScore = human,
                    JudgeExplanation = "Looks faithful.", ResolutionMethod = "single_reviewer",
                    Reviewers = [new ReviewerAnnotation { ReviewerId = "r1", Score = human, Comment = "Invents a date.", AnnotatedAt = DateTimeOffset.UtcNow }],
                };
            }
        }
    }
}
