extern alias alignment;
extern alias metrics;

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using alignment::MetricAlignment.Alignment.Clients;
using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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
    WebApplicationFactory<MetricsProgram> metricsService = null!;
    WebApplicationFactory<AlignmentProgram> alignmentService = null!;
    IBusControl counterBus = null!;
    string metricsDatabase = null!;
    string alignmentDatabase = null!;
    string virtualHost = null!;

    public HttpClient Metrics { get; private set; } = null!;
    public HttpClient Alignment { get; private set; } = null!;
    public FewRowsAnnotations Annotations { get; } = new();
    public PublishedEvents Events { get; } = new();
    public IBus MetricsBus => metricsService.Services.GetRequiredService<IBus>();

    public async Task InitializeAsync()
    {
        metricsDatabase = await TestInfrastructure.CreateDatabaseAsync("conc_metrics");
        alignmentDatabase = await TestInfrastructure.CreateDatabaseAsync("conc_alignment");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("concurrency");

        metricsService = new WebApplicationFactory<MetricsProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:metricsdb", metricsDatabase);
            web.UseSetting("ConnectionStrings:messaging", virtualHost);
        });
        Metrics = metricsService.CreateClient().As(Roles.MetricEditor);
        Metrics.Timeout = TimeSpan.FromSeconds(30);
        (await Metrics.GetAsync("/health")).EnsureSuccessStatusCode();

        alignmentService = new WebApplicationFactory<AlignmentProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:alignmentdb", alignmentDatabase);
            web.UseSetting("ConnectionStrings:messaging", virtualHost);
            web.UseSetting("Alignment:Worker:ConcurrentRuns", "8");
            web.UseSetting("Alignment:Worker:HeartbeatInterval", "00:00:02");
            web.ConfigureTestServices(services =>
            {
                services.RemoveAll<IMetricsClient>();
                services.RemoveAll<IAnnotationsClient>();
                services.AddSingleton<IMetricsClient>(new MetricsClient(metricsService.CreateClient().AsService(TestTokens.Workspace)));
                services.AddSingleton<IAnnotationsClient>(Annotations);
            });
        });
        Alignment = alignmentService.CreateClient().As(Roles.MetricEditor);
        Alignment.Timeout = TimeSpan.FromSeconds(45);
        (await Alignment.GetAsync("/health")).EnsureSuccessStatusCode();

        var messaging = new Uri(virtualHost);
        var credentials = messaging.UserInfo.Split(':', 2).Select(Uri.UnescapeDataString).ToArray();
        counterBus = Bus.Factory.CreateUsingRabbitMq(bus =>
        {
            bus.Host(new Uri($"rabbitmq://{messaging.Host}:{messaging.Port}{messaging.AbsolutePath}"), host =>
            {
                host.Username(credentials[0]);
                host.Password(credentials[1]);
            });
            bus.ReceiveEndpoint("concurrency-published-events", endpoint =>
            {
                endpoint.Handler<MetricVersioned>(c => Events.Record("MetricVersioned", c.Message.RunId, c.MessageId));
                endpoint.Handler<MetricForked>(c => Events.Record("MetricForked", c.Message.RunId, c.MessageId));
                endpoint.Handler<AlignmentRunAccepted>(c => Events.Record("AlignmentRunAccepted", c.Message.RunId, c.MessageId));
                endpoint.Handler<AlignmentRunCancelled>(c => Events.Record("AlignmentRunCancelled", c.Message.RunId, c.MessageId));
            });
        });
        using var started = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await counterBus.StartAsync(started.Token);
    }

    public async Task DisposeAsync()
    {
        if (counterBus is not null) await counterBus.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);
        Alignment?.Dispose();
        Metrics?.Dispose();
        if (alignmentService is not null) await alignmentService.DisposeAsync();
        if (metricsService is not null) await metricsService.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(alignmentDatabase);
        await TestInfrastructure.DropDatabaseAsync(metricsDatabase);
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
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

    /// <summary>What a consumer bound to the events' exchanges received, per event type and run, by distinct message id.</summary>
    public sealed class PublishedEvents
    {
        readonly ConcurrentDictionary<(string Type, Guid RunId), ConcurrentDictionary<Guid, int>> received = new();

        public Task Record(string type, Guid runId, Guid? messageId)
        {
            received.GetOrAdd((type, runId), _ => new()).AddOrUpdate(messageId ?? Guid.NewGuid(), 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }

        public int Count(string type, Guid runId) => received.TryGetValue((type, runId), out var messages) ? messages.Count : 0;
        public int Total(string type, IEnumerable<Guid> runIds) => runIds.Sum(id => Count(type, id));

        /// <summary>Waits until every run has at least one event of the type (or the bound passes), then a moment for duplicates.</summary>
        public async Task SettleAsync(string type, IEnumerable<Guid> runIds, TimeSpan within)
        {
            var deadline = DateTime.UtcNow + within;
            while (runIds.Any(id => Count(type, id) == 0) && DateTime.UtcNow < deadline) await Task.Delay(100);
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
    }

    /// <summary>Eligible evaluations per metric, and six resolved rows of which three disagree by two points or more.</summary>
    public sealed class FewRowsAnnotations : IAnnotationsClient
    {
        readonly ConcurrentDictionary<Guid, ConcurrentBag<EligibleEvaluation>> eligible = new();

        public EligibleEvaluation AddEvaluation(Guid metricId)
        {
            var evaluation = new EligibleEvaluation
            {
                EvaluationId = Guid.NewGuid(), Name = "race evaluation", Status = "completed", CreatedAt = DateTimeOffset.UtcNow,
                RowCount = 6, ResolvedRowCount = 6,
            };
            eligible.GetOrAdd(metricId, _ => []).Add(evaluation);
            return evaluation;
        }

        public Task<IReadOnlyList<EligibleEvaluation>> GetEligibleEvaluationsAsync(string workspace, Guid metricId, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<EligibleEvaluation>>(workspace == TestTokens.Workspace && eligible.TryGetValue(metricId, out var list) ? [.. list] : []);

        public async IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(string workspace, Guid metricId, IReadOnlyList<Guid> evaluationIds,
            [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            foreach (var (judge, human) in new[] { (5.0, 3.0), (4.0, 4.0), (5.0, 2.0), (3.0, 3.0), (4.0, 2.0), (2.0, 2.0) })
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return new ResolvedRow
                {
                    RowId = Guid.NewGuid(), EvaluationId = evaluationIds[0], Input = new RowInput { Text = "Reply to the complaint." },
                    Output = "We are sorry.", MetricId = metricId, MetricKey = "tone", JudgeScore = judge, ResolvedScore = human,
                    JudgeExplanation = "Polite enough.", ResolutionMethod = "single_reviewer",
                    Reviewers = [new ReviewerAnnotation { ReviewerId = "r1", Score = human, Comment = "Too curt.", AnnotatedAt = DateTimeOffset.UtcNow }],
                };
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ConcurrencyServicesCollection : ICollectionFixture<ConcurrencyServices>
{
    public const string Name = "concurrency services";
}
