using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MetricAlignment.Alignment.Tests.Reflection;

/// <summary>Builds the reflection stack through the DI extension, pointed at a scripted loopback server.</summary>
public sealed class ReflectionStack : IDisposable
{
    public const string ApiKey = "sk-test-9f8e7d6c5b4a-SECRET";

    readonly ServiceProvider services;

    public ReflectionStack(Uri endpoint, IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Alignment:DefaultProvider"] = "local",
            ["Alignment:Providers:local:Endpoint"] = endpoint.ToString(),
            ["Alignment:Providers:local:Kind"] = "openai-compatible",
            ["Alignment:Providers:local:ApiKey"] = ApiKey,
            ["Alignment:Providers:local:DefaultModel"] = "gpt-4o-mini",
            ["Alignment:Providers:local:MaxConcurrency"] = "4",
            ["Alignment:Providers:local:TimeoutSeconds"] = "5",
            ["Alignment:Providers:local:MaxRetries"] = "3",
            ["Alignment:Providers:local:RetryBaseDelaySeconds"] = "0.01",
            ["Alignment:Providers:local:MaxRetryAfterSeconds"] = "5",
            ["Alignment:Providers:local:BreakerMinimumThroughput"] = "3",
            ["Alignment:Providers:local:BreakerFailureRatio"] = "1",
            ["Alignment:Providers:local:BreakerSamplingSeconds"] = "30",
            ["Alignment:Providers:local:BreakerBreakSeconds"] = "30",
            ["Alignment:Reflection:MaxOutputTokens"] = "500",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var collection = new ServiceCollection();
        collection.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
        collection.AddReflectionProviders(configuration);
        services = collection.BuildServiceProvider();
    }

    public CapturedLogs Logs { get; } = new();
    public IReflectionEngineResolver Resolver => services.GetRequiredService<IReflectionEngineResolver>();
    public IReflectionEngine Engine => Resolver.Resolve("local");
    public JudgeVerifier Verifier => services.GetRequiredService<JudgeVerifier>();
    public ProviderCatalog Catalog => services.GetRequiredService<ProviderCatalog>();

    public void Dispose() => services.Dispose();
}

public sealed class CapturedLogs : ILoggerProvider
{
    readonly ConcurrentQueue<string> lines = new();

    public IReadOnlyList<string> Lines => lines.ToList();
    public string All => string.Join("\n", lines);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
    public void Dispose() { }

    sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var structured = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            owner.lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} [{structured}] {exception}");
        }
    }
}

/// <summary>A quantitative 1-5 metric and disagreement rows where the judge scores too high.</summary>
public static class ReflectionData
{
    public static readonly MetricDefinition Metric = new()
    {
        Id = Guid.Parse("0b5f8a52-1f7e-4c55-9d0e-6e8d3f6a2c11"),
        Key = "faithfulness",
        Name = "Faithfulness",
        Type = MetricType.Quantitative,
        ScaleMin = 1,
        ScaleMax = 5,
        Version = 3,
        SystemPrompt = "You rate how faithful a summary is to its source, from 1 (invents facts) to 5 (fully supported).",
        UserPromptTemplate = "Source:\n{{input}}\n\nSummary:\n{{output}}",
    };

    public static Guid RowId(int n) => Guid.Parse($"00000000-0000-4000-8000-{n:D12}");

    public static DisagreementTrace Trace(int n, double judge = 5, double human = 2, string? comment = null) => new()
    {
        RowId = RowId(n),
        EvaluationId = Guid.Parse("11111111-2222-4333-8444-555555555555"),
        ExternalId = $"doc-{n}",
        InputText = $"Source article number {n} about the harbour extension and its costs.",
        Output = $"Summary {n}: the harbour extension was approved.",
        JudgeScore = judge,
        JudgeExplanation = "Fluent and on topic.",
        HumanScore = human,
        Reviewers =
        [
            new ReviewerAnnotation { ReviewerId = "r1", Score = human, Comment = comment ?? $"Row {n} states a figure the source does not give.", AnnotatedAt = DateTimeOffset.UnixEpoch },
        ],
        Delta = judge - human,
    };

    public static TraceAnalysis Analysis(IReadOnlyList<DisagreementTrace> traces) => new()
    {
        RowsLoaded = traces.Count * 3,
        Disagreements = traces.Count,
        AgreeingRowsSkipped = traces.Count * 2,
        DeltaThreshold = 2,
        Statistics = new AgreementStatistics
        {
            RowCount = traces.Count * 3,
            ExactAgreement = 0.5,
            Categories = ["1", "2", "3", "4", "5"],
            ConfusionMatrix = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
        },
        Traces = traces,
    };

    public static VerificationRow Agreeing(int n, double score) => new()
    {
        RowId = RowId(n),
        InputText = $"Source article number {n} about the budget.",
        Output = $"Summary {n}: the budget grew.",
        HumanScore = score,
        JudgeScore = score,
        IsDisagreement = false,
    };

    /// <summary>An answer to a batch call citing the first rows of the batch (as the prompt names them).</summary>
    public static JsonObject Candidates(ChatRequest request, string text = "The judge overlooks figures the source does not contain.")
    {
        var rows = System.Text.RegularExpressions.Regex.Matches(request.UserPrompt, "<row id=\"(R\\d+)\">").Select(m => m.Groups[1].Value).ToList();
        return new JsonObject
        {
            ["guidelines"] = new JsonArray(new JsonObject { ["text"] = text, ["row_ids"] = new JsonArray(rows.Take(2).Select(r => (JsonNode?)r).ToArray()) }),
        };
    }

    public static JsonObject Merged(ChatRequest request, string rule = "Lower the score when the summary states a figure or fact absent from the source.")
    {
        var candidates = System.Text.RegularExpressions.Regex.Matches(request.UserPrompt, "<candidate id=\"(C\\d+)\">").Select(m => m.Groups[1].Value).ToList();
        return new JsonObject
        {
            ["guidelines"] = new JsonArray(new JsonObject
            {
                ["text"] = "The judge rewards fluent summaries that invent figures; reviewers penalise them.",
                ["rule"] = rule,
                ["candidate_ids"] = new JsonArray(candidates.Select(c => (JsonNode?)c).ToArray()),
            }),
        };
    }

    /// <summary>Answers reflection calls normally; judge calls go to <paramref name="judge"/>.</summary>
    public static Func<ChatRequest, ScriptedResponse> Script(Func<ChatRequest, ScriptedResponse>? judge = null) => request => request.SchemaName switch
    {
        "candidate_guidelines" => ScriptedResponse.Json(Candidates(request), promptTokens: 1200, completionTokens: 150),
        "merged_guidelines" => ScriptedResponse.Json(Merged(request), promptTokens: 400, completionTokens: 90),
        "judgement" when judge is not null => judge(request),
        _ => ScriptedResponse.Error(400, $"unexpected schema {request.SchemaName}"),
    };
}
