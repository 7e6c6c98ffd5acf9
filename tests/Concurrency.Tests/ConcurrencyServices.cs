extern alias alignment;
extern alias metrics;

using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using alignment::MetricAlignment.Alignment.Clients;
using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using AlignmentProgram = alignment::Program;
using MetricsProgram = metrics::Program;

namespace MetricAlignment.Concurrency.Tests;

/// <summary>
/// The Metrics and Alignment services in process on fresh databases and a fresh vhost, Alignment calling the real Metrics
/// service over (in-process) HTTP and over the bus. Annotations is a fake with a few resolved rows that disagree. A
/// separate bus on the vhost counts what the services publish, per run.
/// </summary>
public sealed class ConcurrencyServices : IAsyncLifetime
{
    readonly InProcessServices services = new();
    InProcessService<MetricsProgram> metricsService = null!;
    IBusControl? counterBus;

    public HttpClient Metrics { get; private set; } = null!;
    public HttpClient Alignment { get; private set; } = null!;
    public FewRowsAnnotations Annotations { get; } = new();
    public PublishedEvents Events { get; } = new();
    public IBus MetricsBus => metricsService.Factory.Services.GetRequiredService<IBus>();

    public async Task InitializeAsync()
    {
        var metricsDatabase = await services.DatabaseAsync("conc_metrics");
        var alignmentDatabase = await services.DatabaseAsync("conc_alignment");
        var virtualHost = await services.VirtualHostAsync("concurrency");

        metricsService = services.Start<MetricsProgram>("metricsdb", metricsDatabase, virtualHost);
        Metrics = await services.ClientAsync(metricsService, Roles.MetricEditor, TimeSpan.FromSeconds(30));

        var alignmentService = services.Start<AlignmentProgram>("alignmentdb", alignmentDatabase, virtualHost,
            InProcessServices.AlignmentWorker(concurrentRuns: 8, heartbeatInterval: TimeSpan.FromSeconds(2)),
            testServices => testServices
                .ReplaceAll<IMetricsClient>(new MetricsClient(metricsService.Factory.CreateClient().AsService(TestTokens.Workspace)))
                .ReplaceAll<IAnnotationsClient>(Annotations));
        Alignment = await services.ClientAsync(alignmentService, Roles.MetricEditor, TimeSpan.FromSeconds(45));

        counterBus = await CountingBus.StartAsync(virtualHost, "concurrency-published-events", endpoint =>
        {
            endpoint.Handler<MetricVersioned>(c => Events.Record(c, c.Message.RunId));
            endpoint.Handler<MetricForked>(c => Events.Record(c, c.Message.RunId));
            endpoint.Handler<AlignmentRunAccepted>(c => Events.Record(c, c.Message.RunId));
            endpoint.Handler<AlignmentRunCancelled>(c => Events.Record(c, c.Message.RunId));
        });
    }

    public async Task DisposeAsync()
    {
        await CountingBus.StopAsync(counterBus);
        await services.DisposeAsync();
    }

    public async Task<Guid> CreateCustomMetricAsync()
    {
        var response = await Metrics.PostAsJsonAsync("/api/metrics", new
        {
            name = $"Tone {Guid.NewGuid():N}", description = "How well the tone suits the user.", type = "quantitative",
            scaleMin = 1, scaleMax = 5, scope = "turn", systemPrompt = "You judge tone.",
            userPromptTemplate = "User: {{input}}\nAssistant: {{output}}\nScore the tone from 1 to 5.", author = "races@example.com",
        });
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
    }

    public async Task<JsonObject> GetMetricAsync(Guid metricId) =>
        (await Metrics.GetFromJsonAsync<JsonObject>($"/api/metrics/{metricId}"))!;

    /// <summary>Every version number the metric has, oldest first.</summary>
    public async Task<List<int>> VersionNumbersAsync(Guid metricId)
    {
        var versions = await Metrics.GetFromJsonAsync<JsonNode>($"/api/metrics/{metricId}/versions");
        var items = versions as JsonArray ?? versions!["items"]!.AsArray();
        return items.Select(v => (int)v!["version"]!).Order().ToList();
    }

    /// <summary>Starts a run of the metric on a fresh evaluation; the run is aligned a moment later.</summary>
    public async Task<Guid> StartRunAsync(Guid metricId)
    {
        var evaluation = Annotations.AddEvaluation(metricId);
        var response = await Alignment.PostAsJsonAsync("/api/alignment-runs",
            new { metricId, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
    }

    public async Task<JsonObject> GetRunAsync(Guid runId) =>
        (await Alignment.GetFromJsonAsync<JsonObject>($"/api/alignment-runs/{runId}"))!;

    /// <summary>Polls until every run's status satisfies <paramref name="done"/> or the bound passes; returns the last views.</summary>
    public async Task<Dictionary<Guid, JsonObject>> WaitAsync(IEnumerable<Guid> runIds, Func<string, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var runs = new Dictionary<Guid, JsonObject>();
        var pending = runIds.ToList();
        while (true)
        {
            foreach (var id in pending.ToList())
            {
                runs[id] = await GetRunAsync(id);
                if (done((string)runs[id]["status"]!)) pending.Remove(id);
            }
            if (pending.Count == 0 || DateTime.UtcNow > deadline) return runs;
            await Task.Delay(150);
        }
    }

    public async Task<HttpStatusCode> AcceptAsync(Guid runId) =>
        (await Alignment.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { })).StatusCode;

    public static string Status(JsonObject run) => (string)run["status"]!;

    /// <summary>Eligible evaluations per metric, and six resolved rows of which three disagree by two points or more.</summary>
    public sealed class FewRowsAnnotations() : ScriptedAnnotations<EligibleEvaluation>(SixRows), IAnnotationsClient
    {
        static readonly ScriptedRows SixRows = new()
        {
            Scores = [(5.0, 3.0), (4.0, 4.0), (5.0, 2.0), (3.0, 3.0), (4.0, 2.0), (2.0, 2.0)],
            MetricKey = "tone", Input = "Reply to the complaint.", Output = "We are sorry.",
            JudgeExplanation = "Polite enough.", ReviewerComment = "Too curt.",
        };

        public EligibleEvaluation AddEvaluation(Guid metricId) => AddEligible(metricId, new EligibleEvaluation
        {
            EvaluationId = Guid.NewGuid(), Name = "race evaluation", Status = "completed", CreatedAt = DateTimeOffset.UtcNow,
            RowCount = 6, ResolvedRowCount = 6,
        });
    }
}

[CollectionDefinition(Name)]
public sealed class ConcurrencyServicesCollection : ICollectionFixture<ConcurrencyServices>
{
    public const string Name = "concurrency services";
}
