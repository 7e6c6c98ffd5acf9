using System.Text;
using System.Text.Json.Nodes;

namespace MetricAlignment.Annotations.Tests;

/// <summary>Builds import bodies (docs/import-format.md) for tests.</summary>
public sealed class ImportBody
{
    readonly StringBuilder lines = new();

    public ImportBody(string name, params (string Metric, string Resolution)[] metrics)
    {
        lines.AppendLine(new JsonObject
        {
            ["name"] = name,
            ["status"] = "completed",
            ["metrics"] = new JsonArray(metrics.Select(m => (JsonNode)new JsonObject { ["metric"] = m.Metric, ["resolution"] = m.Resolution }).ToArray()),
        }.ToJsonString());
    }

    /// <summary>A row with a fluency judge score and one fluency annotation per reviewer score given.</summary>
    public ImportBody Row(string externalId, double judge, params double[] reviewers)
    {
        var annotations = new JsonArray(reviewers.Select((score, i) => (JsonNode)new JsonObject
        {
            ["metric"] = "fluency", ["reviewerId"] = $"reviewer-{i + 1}", ["score"] = score,
        }).ToArray());
        return Line(new JsonObject
        {
            ["externalId"] = externalId,
            ["input"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = $"Summarise article {externalId}" }),
            ["output"] = $"Summary {externalId}",
            ["tags"] = new JsonObject { ["system"] = "test" },
            ["judge"] = new JsonObject { ["fluency"] = new JsonObject { ["score"] = judge, ["model"] = "gpt-4" } },
            ["annotations"] = annotations,
        }.ToJsonString());
    }

    public ImportBody Line(string raw)
    {
        lines.AppendLine(raw);
        return this;
    }

    public override string ToString() => lines.ToString();
}
