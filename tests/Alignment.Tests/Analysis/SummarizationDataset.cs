using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Alignment.Tests.Analysis;

/// <summary>
/// The repository's real dataset (GPT-4 judge vs three reviewers on 400 summaries per metric) as the resolved rows
/// the Annotations service would stream: resolved score = median of the three reviewers, tags system/item_id/batch.
/// Row ids are derived from the content so every load gives the same ids.
/// </summary>
internal static class SummarizationDataset
{
    static readonly ConcurrentDictionary<string, IReadOnlyList<ResolvedRow>> Cache = new();
    static readonly DateTimeOffset AnnotatedAt = new(2023, 5, 1, 0, 0, 0, TimeSpan.Zero);

    public static string JudgePrompt => File.ReadAllText(Path.Combine(RepositoryPaths.Dataset, "judge_prompt.txt"));

    public static MetricDefinition Metric(string key) => new()
    {
        Id = StableGuid("metric:" + key),
        Key = key,
        Name = char.ToUpperInvariant(key[0]) + key[1..],
        Type = MetricType.Quantitative,
        ScaleMin = 1,
        ScaleMax = 5,
        Version = 1,
        SystemPrompt = JudgePrompt,
        UserPromptTemplate = "Source text:\n{{input}}\n\nSummary:\n{{output}}\n\nScore the summary's " + key + " from 1 to 5.",
    };

    public static IReadOnlyList<ResolvedRow> Rows(string metricKey) => Cache.GetOrAdd(metricKey, Load);

    static IReadOnlyList<ResolvedRow> Load(string metricKey)
    {
        var metric = Metric(metricKey);
        var evaluations = new Dictionary<long, Guid>();
        var rows = new List<ResolvedRow>();
        foreach (var line in File.ReadLines(Path.Combine(RepositoryPaths.Dataset, "rows.jsonl")))
        {
            using var document = JsonDocument.Parse(line);
            var json = document.RootElement;
            if (json.GetProperty("metric").GetString() != metricKey) continue;
            var batch = json.GetProperty("batch").GetInt64();
            var itemId = json.GetProperty("item_id").GetString()!;
            var system = json.GetProperty("system").GetString()!;
            var reviewers = json.GetProperty("human_scores").EnumerateObject()
                .Select(p => new ReviewerAnnotation { ReviewerId = p.Name, Score = p.Value.GetDouble(), AnnotatedAt = AnnotatedAt })
                .ToList();
            rows.Add(new ResolvedRow
            {
                RowId = StableGuid($"row:{itemId}:{system}:{metricKey}"),
                EvaluationId = evaluations.TryGetValue(batch, out var evaluation) ? evaluation : evaluations[batch] = StableGuid($"batch:{batch}"),
                ExternalId = $"{itemId[..12]}:{system}",
                Input = new RowInput { Text = json.GetProperty("source_text").GetString() },
                Output = json.GetProperty("system_output").GetString()!,
                Tags = new Dictionary<string, string> { ["system"] = system, ["item_id"] = itemId, ["batch"] = batch.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                MetricId = metric.Id,
                MetricKey = metricKey,
                JudgeScore = json.GetProperty("judge_score").GetDouble(),
                JudgeModel = json.GetProperty("judge_model").GetString(),
                ResolvedScore = Median(reviewers.Select(r => r.Score!.Value)),
                ResolutionMethod = "median",
                Reviewers = reviewers,
            });
        }
        return rows;
    }

    public static TraceAnalysis Analyze(string metricKey, double deltaThreshold = 1, int maxTraces = 200)
    {
        var analyzer = new DisagreementAnalyzer(Metric(metricKey), deltaThreshold, maxTraces);
        foreach (var row in Rows(metricKey)) analyzer.Add(row);
        return analyzer.Complete();
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    public static Guid StableGuid(string text) => new(MD5.HashData(Encoding.UTF8.GetBytes(text)));
}
