using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MetricAlignment.Bench;

/// <summary>
/// Benchmark 5: the distilling phase with LlmReflectionEngine against the scripted OpenAI-compatible server answering
/// after a fixed latency, with usage counted from the real prompts (o200k). Checks the per-run token budget, the
/// number of calls in flight against the provider's MaxConcurrency, and wall time against calls / concurrency x latency.
/// </summary>
public static partial class LlmBenchmark
{
    public const string Name = "llm";
    public const int ProviderConcurrency = 4;
    public const long TokenBudget = 150_000;

    public static async Task RunAsync(Scale scale, Report report)
    {
        var latency = scale.LlmLatency;
        var inFlight = 0;
        var peakInFlight = 0;
        await using var server = await ScriptedOpenAiServer.StartAsync(request =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peakInFlight, now);
            // The server waits `latency` before answering; the call is in flight until then.
            _ = Task.Delay(latency).ContinueWith(_ => Interlocked.Decrement(ref inFlight), TaskScheduler.Default);
            var prompt = TokenCounter.CountChat(request.SystemPrompt, request.UserPrompt);
            return request.SchemaName switch
            {
                "candidate_guidelines" => ScriptedResponse.Json(Candidates(request), prompt, 150) with { Delay = latency },
                "merged_guidelines" => ScriptedResponse.Json(Merged(request), prompt, 90) with { Delay = latency },
                _ => ScriptedResponse.Error(400, $"unexpected schema {request.SchemaName}"),
            };
        });

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Alignment:DefaultProvider"] = "local",
            ["Alignment:Providers:local:Endpoint"] = server.Endpoint.ToString(),
            ["Alignment:Providers:local:Kind"] = "openai-compatible",
            ["Alignment:Providers:local:ApiKey"] = "sk-bench",
            ["Alignment:Providers:local:DefaultModel"] = "gpt-4o-mini",
            ["Alignment:Providers:local:MaxConcurrency"] = ProviderConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Alignment:Providers:local:TimeoutSeconds"] = "120",
            ["Alignment:Reflection:TokenBudgetPerRun"] = TokenBudget.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        var collection = new ServiceCollection();
        collection.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        collection.AddReflectionProviders(configuration);
        await using var services = collection.BuildServiceProvider();
        var engine = (LlmReflectionEngine)services.GetRequiredService<IReflectionEngineResolver>().Resolve("local");

        // Warm-up: tokenizer data, JIT, HTTP connections.
        await engine.DistillAsync(new DistillationRequest { Metric = Metric, Analysis = Analysis(3) }, new RunTokenMeter(TokenBudget), CancellationToken.None);

        foreach (var disagreements in scale.LlmDisagreements)
        {
            var before = server.Requests.Count;
            peakInFlight = 0;
            var meter = new RunTokenMeter(TokenBudget);
            var watch = Stopwatch.StartNew();
            string? refused = null;
            try
            {
                await engine.DistillAsync(new DistillationRequest { Metric = Metric, Analysis = Analysis(disagreements) }, meter, CancellationToken.None);
            }
            catch (TokenBudgetExceededException e)
            {
                refused = e.Message;
            }
            var wall = watch.Elapsed.TotalSeconds;
            var calls = server.Requests.Count - before;
            var usage = meter.Snapshot().Total;
            var ideal = Math.Ceiling(Math.Max(1, calls - 1) / (double)ProviderConcurrency) * latency.TotalSeconds + latency.TotalSeconds;
            report.Add(new Figure(Name, $"{disagreements:N0} disagreements: tokens used", usage.TotalTokens, "tokens")
            {
                Reference = TokenBudget, ReferenceName = "run budget", TargetRatio = 1,
                Note = refused is null ? $"{calls} calls" : $"{calls} calls; budget refused a call: {refused}",
            });
            report.Add(new Figure(Name, $"{disagreements:N0} disagreements: wall time", wall, "s")
            {
                Reference = ideal, ReferenceName = $"batch calls / {ProviderConcurrency} x latency + merge", TargetRatio = 1.5,
                Note = $"latency {latency.TotalMilliseconds:0} ms, peak {peakInFlight} calls in flight (limit {ProviderConcurrency})",
            });
        }
    }

    static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }

    static readonly MetricDefinition Metric = new()
    {
        Id = RowGenerator.MetricId, Key = "fluency", Name = "Fluency", Type = MetricType.Quantitative, ScaleMin = 1, ScaleMax = 5, Version = 1,
        SystemPrompt = "You rate how fluent a summary reads, from 1 (unreadable) to 5 (reads naturally).",
        UserPromptTemplate = "Article:\n{{input}}\n\nSummary:\n{{output}}",
    };

    static TraceAnalysis Analysis(int disagreements)
    {
        var rows = RowGenerator.Rows(disagreements, seed: 5).ToList();
        var traces = rows.Select(row => new DisagreementTrace
        {
            RowId = Guid.NewGuid(), EvaluationId = Guid.Empty, ExternalId = row.ExternalId,
            InputText = row.Article, Output = row.Output, JudgeScore = 5, JudgeExplanation = row.JudgeExplanation, HumanScore = 2,
            Reviewers = RowGenerator.Reviewers.Select((r, i) => new ReviewerAnnotation
            {
                ReviewerId = r, Score = 2, Comment = row.ReviewerComments[i], AnnotatedAt = DateTimeOffset.UnixEpoch,
            }).ToList(),
            Delta = 3,
        }).ToList();
        return new TraceAnalysis
        {
            RowsLoaded = disagreements * 3, Disagreements = disagreements, AgreeingRowsSkipped = disagreements * 2, DeltaThreshold = 1,
            Statistics = new AgreementStatistics
            {
                RowCount = disagreements * 3, ExactAgreement = 0.5, Categories = ["1", "2", "3", "4", "5"],
                ConfusionMatrix = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
            },
            Traces = traces,
        };
    }

    static JsonObject Candidates(ChatRequest request)
    {
        var rows = RowIds().Matches(request.UserPrompt).Select(m => m.Groups[1].Value).ToList();
        return new JsonObject
        {
            ["guidelines"] = new JsonArray(new JsonObject
            {
                ["text"] = "The judge overlooks repeated phrases that reviewers penalise.",
                ["row_ids"] = new JsonArray(rows.Take(2).Select(r => (JsonNode?)r).ToArray()),
            }),
        };
    }

    static JsonObject Merged(ChatRequest request)
    {
        var candidates = CandidateIds().Matches(request.UserPrompt).Select(m => m.Groups[1].Value).ToList();
        return new JsonObject
        {
            ["guidelines"] = new JsonArray(new JsonObject
            {
                ["text"] = "The judge rewards summaries that repeat phrases; reviewers penalise them.",
                ["rule"] = "Lower the score by one when a phrase is repeated.",
                ["candidate_ids"] = new JsonArray(candidates.Select(c => (JsonNode?)c).ToArray()),
            }),
        };
    }

    [GeneratedRegex("<row id=\"(R\\d+)\">")]
    private static partial Regex RowIds();

    [GeneratedRegex("<candidate id=\"(C\\d+)\">")]
    private static partial Regex CandidateIds();
}
