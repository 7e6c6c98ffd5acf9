using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MetricAlignment.EndToEnd.Tests;

/// <summary>
/// The whole app with two Alignment replicas and an LLM provider "scripted" that points at a scripted
/// OpenAI-compatible server on 127.0.0.1, which each test tells how to answer (<see cref="Answer"/>). Heartbeats,
/// sweeps and the stall timeout are shortened so that a dead worker shows within seconds, not minutes.
/// </summary>
public sealed class ScriptedProviderAppFixture : DistributedAppFixture
{
    public const string Provider = "scripted";
    public const string Model = "gpt-4o-mini";
    public const int AlignmentReplicas = 2;
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(20);

    readonly ConcurrentDictionary<string, ResourceEvent> alignmentReplicas = new();
    readonly CancellationTokenSource stopWatching = new();
    Task? watching;
    volatile Func<ChatRequest, ScriptedResponse> answer = ScriptedReflection.Fast;
    readonly SemaphoreSlim evaluationGate = new(1, 1);
    (Guid MetricId, Guid EvaluationId)? evaluation;

    public ScriptedOpenAiServer LanguageModel { get; private set; } = null!;

    /// <summary>How the scripted model answers every call from now on.</summary>
    public Func<ChatRequest, ScriptedResponse> Answer { get => answer; set => answer = value; }

    protected override IEnumerable<string> AppHostArguments => [$"--Alignment:Replicas={AlignmentReplicas}"];

    protected override async Task ConfigureAsync(IDistributedApplicationTestingBuilder builder)
    {
        LanguageModel = await ScriptedOpenAiServer.StartAsync(request => answer(request));
        var settings = new Dictionary<string, string>
        {
            [$"Alignment:Providers:{Provider}:Endpoint"] = LanguageModel.Endpoint.ToString(),
            [$"Alignment:Providers:{Provider}:ApiKey"] = "sk-e2e-scripted",
            [$"Alignment:Providers:{Provider}:DefaultModel"] = Model,
            [$"Alignment:Providers:{Provider}:TimeoutSeconds"] = "120",
            [$"Alignment:Providers:{Provider}:MaxRetries"] = "1",
            [$"Alignment:Providers:{Provider}:RetryBaseDelaySeconds"] = "0.1",
            ["Alignment:Worker:HeartbeatInterval"] = "00:00:02",
            ["Alignment:Worker:SweepInterval"] = "00:00:02",
            ["Alignment:Worker:StallTimeout"] = StallTimeout.ToString("c", CultureInfo.InvariantCulture),
        };
        var alignment = builder.CreateResourceBuilder<ProjectResource>("alignment");
        foreach (var (key, value) in settings) alignment.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
    }

    protected override async Task OnStartedAsync(CancellationToken cancellationToken)
    {
        watching = WatchAlignmentReplicasAsync(stopWatching.Token);
        // Healthy "alignment" only says that one replica is: the tests need both.
        while (alignmentReplicas.Values.Count(r => r.Snapshot.HealthStatus == HealthStatus.Healthy) < AlignmentReplicas)
            await Task.Delay(200, cancellationToken);
    }

    async Task WatchAlignmentReplicasAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var update in App.ResourceNotifications.WatchAsync(cancellationToken))
                if (update.Resource.Name == "alignment") alignmentReplicas[update.ResourceId] = update;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The process ids Aspire reports for the Alignment replicas that are running.</summary>
    public IReadOnlyList<int> AlignmentReplicaProcessIds() =>
        alignmentReplicas.Values
            .Where(r => r.Snapshot.State?.Text == KnownResourceStates.Running)
            .Select(r => r.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value)
            .Where(pid => pid is not null)
            .Select(pid => Convert.ToInt32(pid, CultureInfo.InvariantCulture))
            .ToList();

    /// <summary>
    /// A small completed evaluation on the built-in fluency metric: three rows the judge rates 5 and the reviewers 1
    /// (disagreements) and one they agree on, imported once through the Annotations API.
    /// </summary>
    public async Task<(Guid MetricId, Guid EvaluationId)> EnsureEvaluationAsync()
    {
        await evaluationGate.WaitAsync();
        try
        {
            if (evaluation is { } existing) return existing;
            using var metrics = CreateClient("metrics");
            using var annotations = CreateClient("annotations");
            var fluencyId = (await metrics.GetFromJsonAsync<JsonObject>("api/metrics/fluency"))!["id"]!.GetValue<Guid>();
            var lines = new List<JsonNode>
            {
                new JsonObject
                {
                    ["name"] = $"e2e scripted provider {Guid.NewGuid():N}", ["status"] = "completed",
                    ["metrics"] = new JsonArray(new JsonObject { ["metric"] = "fluency", ["resolution"] = "median" }),
                },
            };
            for (var n = 1; n <= 4; n++)
            {
                var human = n == 4 ? 5 : 1;
                lines.Add(new JsonObject
                {
                    ["externalId"] = $"row-{n}",
                    ["input"] = $"Source article {n}: the council approved the harbour extension on Tuesday.",
                    ["output"] = n == 4 ? "The council approved the harbour extension." : $"council harbour approved extension the the {n}",
                    ["judge"] = new JsonObject { ["fluency"] = new JsonObject { ["score"] = 5, ["explanation"] = "Reads well." } },
                    ["annotations"] = new JsonArray(
                        new JsonObject { ["metric"] = "fluency", ["reviewerId"] = "r1", ["score"] = human, ["comment"] = "Word salad." },
                        new JsonObject { ["metric"] = "fluency", ["reviewerId"] = "r2", ["score"] = human }),
                });
            }
            using var body = new StringContent(string.Join('\n', lines.Select(l => l.ToJsonString())), Encoding.UTF8, "application/x-ndjson");
            using var imported = await annotations.PostAsync("api/evaluations/import", body);
            imported.EnsureSuccessStatusCode();
            var evaluationId = (await imported.Content.ReadFromJsonAsync<JsonObject>())!["evaluationId"]!.GetValue<Guid>();
            evaluation = (fluencyId, evaluationId);
            return evaluation.Value;
        }
        finally
        {
            evaluationGate.Release();
        }
    }

    public override async Task DisposeAsync()
    {
        await stopWatching.CancelAsync();
        if (watching is not null) await watching;
        await base.DisposeAsync();
        if (LanguageModel is not null) await LanguageModel.DisposeAsync();
        stopWatching.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ScriptedProviderAppCollection : ICollectionFixture<ScriptedProviderAppFixture>
{
    public const string Name = "distributed app with a scripted LLM provider";
}

/// <summary>Answers of a reflection model that follows the requested JSON schemas.</summary>
public static partial class ScriptedReflection
{
    public static readonly Func<ChatRequest, ScriptedResponse> Fast = request => request.SchemaName switch
    {
        "candidate_guidelines" => ScriptedResponse.Json(new JsonObject
        {
            ["guidelines"] = new JsonArray(new JsonObject
            {
                ["text"] = "The judge rates scrambled word order as fluent.",
                ["row_ids"] = new JsonArray(RowIds().Matches(request.UserPrompt).Select(m => (JsonNode?)m.Groups[1].Value).Take(2).ToArray()),
            }),
        }),
        "merged_guidelines" => ScriptedResponse.Json(new JsonObject
        {
            ["guidelines"] = new JsonArray(new JsonObject
            {
                ["text"] = "Reviewers give the lowest score to text whose word order is scrambled; the judge does not.",
                ["rule"] = "Score 1 when the word order is scrambled, however well-formed the words are.",
                ["candidate_ids"] = new JsonArray(CandidateIds().Matches(request.UserPrompt).Select(m => (JsonNode?)m.Groups[1].Value).ToArray()),
            }),
        }),
        _ => ScriptedResponse.Error(400, $"unexpected schema {request.SchemaName}"),
    };

    /// <summary>The same answers, each after <paramref name="delay"/>.</summary>
    public static Func<ChatRequest, ScriptedResponse> Slow(TimeSpan delay) => request => Fast(request) with { Delay = delay };

    /// <summary>Prose instead of the requested JSON.</summary>
    public static readonly Func<ChatRequest, ScriptedResponse> Malformed = _ => ScriptedResponse.Completion("I think the judge is too lenient.");

    [GeneratedRegex("<row id=\"(R\\d+)\">")]
    private static partial Regex RowIds();

    [GeneratedRegex("<candidate id=\"(C\\d+)\">")]
    private static partial Regex CandidateIds();
}
