using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace MetricAlignment.Contracts.Tests;

/// <summary>Validates JSON against a documented schema the way a consumer on another platform would.</summary>
public static class SchemaValidation
{
    public static IReadOnlyList<string> Validate(JsonObject schema, JsonNode instance)
    {
        var built = JsonSchema.FromText(schema.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        var results = built.Evaluate(JsonSerializer.SerializeToElement(instance),
            new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (results.IsValid) return [];
        return (results.Details ?? [])
            .Where(detail => detail.Errors is { Count: > 0 })
            .SelectMany(detail => detail.Errors!.Select(error => $"{detail.InstanceLocation}: {error.Key}: {error.Value}"))
            .DefaultIfEmpty("invalid (no detail)")
            .ToList();
    }
}
