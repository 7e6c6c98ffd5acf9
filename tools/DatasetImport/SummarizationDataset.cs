using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MetricAlignment.DatasetImport;

/// <summary>One evaluation ready to post to POST /api/evaluations/import: its name and its JSON Lines body.</summary>
public sealed record EvaluationImport(string Name, int Batch, int RowCount, string Ndjson);

/// <summary>
/// Converts data/summarization-gpt4-vs-humans/rows.jsonl (one line per article x system x metric) into the import
/// format (docs/import-format.md): one evaluation per annotation batch, one row per (article, system) with the
/// judge's score and the three reviewers' scores for each of the four metrics, reconciled by their median.
/// </summary>
public static class SummarizationDataset
{
    public const string RowsFile = "rows.jsonl";
    public static readonly string[] Metrics = ["relevance", "fluency", "coherence", "consistency"];

    public static string EvaluationName(int batch) => $"CNN/DailyMail summaries — batch {batch}";

    sealed record SourceLine(int Batch, string ItemId, string System, string Metric, string SourceText, string SystemOutput,
        string JudgeModel, double JudgeScore, Dictionary<string, double> HumanScores);

    public static IReadOnlyList<EvaluationImport> Convert(string datasetDirectory)
    {
        var path = Path.Combine(datasetDirectory, RowsFile);
        var lines = File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).Select((text, index) => Parse(text, index + 1, path)).ToList();

        return lines
            .GroupBy(l => l.Batch)
            .OrderBy(batch => batch.Key)
            .Select(batch =>
            {
                // Rows keep the order in which the file first mentions each (article, system) pair.
                var rows = batch.GroupBy(l => (l.ItemId, l.System)).ToList();
                var body = new StringBuilder();
                body.AppendLine(new JsonObject
                {
                    ["name"] = EvaluationName(batch.Key),
                    ["status"] = "completed",
                    ["metrics"] = new JsonArray(Metrics.Select(m => (JsonNode)new JsonObject { ["metric"] = m, ["resolution"] = "median" }).ToArray()),
                }.ToJsonString());
                foreach (var row in rows) body.AppendLine(RowLine(batch.Key, row.ToList()).ToJsonString());
                return new EvaluationImport(EvaluationName(batch.Key), batch.Key, rows.Count, body.ToString());
            })
            .ToList();
    }

    static JsonObject RowLine(int batch, IReadOnlyList<SourceLine> metricLines)
    {
        var first = metricLines[0];
        var judge = new JsonObject();
        var annotations = new JsonArray();
        foreach (var line in metricLines.OrderBy(l => Array.IndexOf(Metrics, l.Metric)))
        {
            judge[line.Metric] = new JsonObject { ["score"] = line.JudgeScore, ["model"] = line.JudgeModel };
            foreach (var (reviewer, score) in line.HumanScores.OrderBy(h => h.Key, StringComparer.Ordinal))
                annotations.Add(new JsonObject { ["metric"] = line.Metric, ["reviewerId"] = reviewer, ["score"] = score });
        }
        return new JsonObject
        {
            ["externalId"] = $"{first.ItemId}/{first.System}",
            ["input"] = first.SourceText,
            ["output"] = first.SystemOutput,
            ["tags"] = new JsonObject
            {
                ["system"] = first.System,
                ["item_id"] = first.ItemId,
                ["batch"] = batch.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
            ["judge"] = judge,
            ["annotations"] = annotations,
        };
    }

    static SourceLine Parse(string text, int lineNumber, string path)
    {
        try
        {
            var node = JsonNode.Parse(text)!.AsObject();
            return new SourceLine(
                node["batch"]!.GetValue<int>(),
                node["item_id"]!.GetValue<string>(),
                node["system"]!.GetValue<string>(),
                node["metric"]!.GetValue<string>(),
                node["source_text"]!.GetValue<string>(),
                node["system_output"]!.GetValue<string>(),
                node["judge_model"]!.GetValue<string>(),
                node["judge_score"]!.GetValue<double>(),
                node["human_scores"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<double>()));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new InvalidDataException($"{path}:{lineNumber}: not a dataset line ({e.Message})", e);
        }
    }
}
