using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Faults.Tests;

/// <summary>
/// Metrics and Annotations as real processes (built DLLs, Production settings) on fresh databases and a fresh vhost of the
/// shared PostgreSQL and RabbitMQ, with an evaluation of resolved annotations for the built-in fluency metric. The tests
/// start and kill the Alignment instances themselves. A bus of the test's own counts every MetricVersioned and
/// MetricForked delivered, with its MessageId.
/// </summary>
public sealed class ServiceProcesses : IAsyncLifetime
{
    IBusControl? eventCounterBus;

    public ServiceStack Stack { get; private set; } = null!;
    /// <summary>The services' output and the hooks' signal files: .state/faults/&lt;time&gt;, git-ignored.</summary>
    public string LogFolder { get; } = Path.Combine(RepositoryPaths.Root, ".state", "faults", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss"));
    public HttpClient Metrics { get; private set; } = null!;
    public HttpClient Annotations { get; private set; } = null!;
    public Guid FluencyMetricId { get; private set; }
    public Guid FluencyEvaluationId { get; private set; }
    public MetricChanges Events { get; } = new();

    /// <summary>tests/FaultHooks' build output, in this assembly's configuration (the test project references it).</summary>
    public static string HookAssembly => ServiceProcess.BuiltBinary(Path.Combine("tests", "FaultHooks"), "MetricAlignment.FaultHooks.dll");

    public async Task InitializeAsync()
    {
        Stack = await ServiceStack.StartAsync(alignmentInstances: 0, new ServiceStackOptions
        {
            Prefix = "faults_kill",
            LogFolder = LogFolder,
            // The worker's and the saga's own log lines, for the story of a failed test.
            AlignmentEnvironment = new Dictionary<string, string> { ["Logging__LogLevel__MetricAlignment"] = "Information" },
        });
        Metrics = Client(Stack.Metrics.Address);
        Annotations = Client(Stack.Annotations.Address);

        var fluency = await Metrics.GetFromJsonAsync<JsonObject>("api/metrics/fluency");
        FluencyMetricId = fluency!["id"]!.GetValue<Guid>();
        FluencyEvaluationId = await ImportEvaluationAsync("fluency");

        eventCounterBus = await CountingBus.StartAsync(Stack.Messaging, "faults-process-kills-metric-changes", endpoint =>
        {
            endpoint.Handler<MetricVersioned>(context => Events.Record(context.Message.RunId, context.MessageId));
            endpoint.Handler<MetricForked>(context => Events.Record(context.Message.RunId, context.MessageId));
        });
    }

    public async Task DisposeAsync()
    {
        try
        {
            await CountingBus.StopAsync(eventCounterBus);
            Metrics?.Dispose();
            Annotations?.Dispose();
        }
        finally
        {
            if (Stack is not null) await Stack.DisposeAsync();
        }
    }

    /// <summary>A metric editor of the default workspace: what creating metrics, importing, starting and accepting runs needs.</summary>
    public static HttpClient Client(Uri address) =>
        new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) }.As(Roles.MetricEditor);

    /// <summary>A custom metric of the default workspace (so that accepting a run adds a version to it) and an evaluation for it.</summary>
    public async Task<(Guid MetricId, Guid EvaluationId)> CustomMetricWithEvaluationAsync()
    {
        using var response = await Metrics.PostAsJsonAsync("api/metrics", new
        {
            name = $"Tone {Guid.NewGuid():N}", description = "How well the tone suits the user.", type = "quantitative",
            scaleMin = 1, scaleMax = 5, scope = "turn", systemPrompt = "You judge tone.",
            userPromptTemplate = "User: {{input}}\nAssistant: {{output}}\nScore the tone from 1 to 5.", author = "faults@example.com",
        });
        var metric = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        response.StatusCode.Should().Be(HttpStatusCode.Created, metric.ToJsonString());
        return (metric["id"]!.GetValue<Guid>(), await ImportEvaluationAsync(metric["key"]!.GetValue<string>()));
    }

    /// <summary>
    /// 40 rows scored 1-3 by the humans, every one resolved (two reviewers who agree), the judge two points above them on a third:
    /// a run on it aligns with the built-in distiller and has disagreements to accept.
    /// </summary>
    async Task<Guid> ImportEvaluationAsync(string metricKey)
    {
        var lines = new StringBuilder();
        lines.AppendLine(JsonSerializer.Serialize(new
        {
            name = $"process kills {metricKey}", status = "completed", metrics = new[] { new { metric = metricKey, resolution = "median" } },
        }));
        for (var i = 1; i <= 40; i++)
        {
            var human = 1 + i % 3;
            var judge = i % 3 == 0 ? human + 2 : human;
            lines.AppendLine(JsonSerializer.Serialize(new
            {
                externalId = $"kill-{i}",
                input = $"Summarise article {i} in three sentences.",
                output = $"Summary {i}: the council approved the harbour extension after the storm.",
                tags = new Dictionary<string, string> { ["system"] = $"system-{i % 3}" },
                judge = new Dictionary<string, object> { [metricKey] = new { score = judge, explanation = "Reads naturally.", model = "gpt-4" } },
                annotations = new object[]
                {
                    i % 3 == 0
                        ? new { metric = metricKey, reviewerId = "r1", score = human, comment = "awkward, repeats itself" }
                        : new { metric = metricKey, reviewerId = "r1", score = human, comment = "reads well" },
                    new { metric = metricKey, reviewerId = "r2", score = human, comment = "fine" },
                },
            }));
        }
        using var content = new StringContent(lines.ToString(), Encoding.UTF8, "application/x-ndjson");
        using var response = await Annotations.PostAsync("api/evaluations/import", content);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        response.StatusCode.Should().Be(HttpStatusCode.Created, body.ToJsonString());
        return body["evaluationId"]!.GetValue<Guid>();
    }

    /// <summary>
    /// Every delivery to the counting consumer, per run, in arrival order, with its MessageId: a message published again
    /// after a crash arrives twice with one MessageId (what a consumer deduplicates on), two publishes have two ids.
    /// </summary>
    public sealed class MetricChanges
    {
        readonly ConcurrentDictionary<Guid, ConcurrentQueue<Guid?>> byRun = new();

        public Task Record(Guid runId, Guid? messageId)
        {
            byRun.GetOrAdd(runId, _ => new()).Enqueue(messageId);
            return Task.CompletedTask;
        }

        public IReadOnlyList<Guid?> Deliveries(Guid runId) => byRun.TryGetValue(runId, out var deliveries) ? [.. deliveries] : [];
    }
}

[CollectionDefinition(Name)]
public sealed class ServiceProcessesCollection : ICollectionFixture<ServiceProcesses>
{
    public const string Name = "service processes";
}
