using System.Text.Json.Nodes;

namespace MetricAlignment.Contracts.Tests;

/// <summary>
/// The versioning policy of docs/event-versioning.md as a check: within a version a message schema may only gain
/// optional properties. Anything else breaks a consumer or a sender built against the committed schema.
/// </summary>
public static class SchemaCompatibility
{
    // Keywords that describe the value itself; a change in any of them is a change of the property's type.
    static readonly string[] StructuralKeywords = ["properties", "required", "items", "additionalProperties"];
    static readonly string[] DocumentationKeywords = ["$schema", "$id", "title", "description", "examples"];

    public static IReadOnlyList<string> FindBreakingChanges(JsonObject committed, JsonObject current)
    {
        var problems = new List<string>();
        Compare("$", committed, current, problems);
        return problems;
    }

    static void Compare(string path, JsonObject committed, JsonObject current, List<string> problems)
    {
        var committedShape = Shape(committed);
        var currentShape = Shape(current);
        if (!JsonNode.DeepEquals(committedShape, currentShape))
        {
            problems.Add($"{path} changed its type from {committedShape.ToJsonString()} to {currentShape.ToJsonString()}");
            return;
        }

        var committedRequired = Required(committed);
        var currentRequired = Required(current);
        var committedProperties = committed["properties"] as JsonObject ?? [];
        var currentProperties = current["properties"] as JsonObject ?? [];

        foreach (var (name, committedProperty) in committedProperties)
        {
            var propertyPath = $"{path}.{name}";
            if (!currentProperties.TryGetPropertyValue(name, out var currentProperty) || currentProperty is null)
            {
                problems.Add($"{propertyPath} was removed or renamed");
                continue;
            }
            if (committedRequired.Contains(name) && !currentRequired.Contains(name))
                problems.Add($"{propertyPath} is no longer required (consumers rely on it being present)");
            if (!committedRequired.Contains(name) && currentRequired.Contains(name))
                problems.Add($"{propertyPath} was optional and is now required (older senders leave it out)");
            if (committedProperty is JsonObject committedObject && currentProperty is JsonObject currentObject)
                Compare(propertyPath, committedObject, currentObject, problems);
        }

        foreach (var (name, _) in currentProperties)
            if (!committedProperties.ContainsKey(name) && currentRequired.Contains(name))
                problems.Add($"{path}.{name} was added as a required property (only optional properties may be added)");

        foreach (var keyword in new[] { "items", "additionalProperties" })
            if (committed[keyword] is JsonObject committedChild && current[keyword] is JsonObject currentChild)
                Compare($"{path}[{keyword}]", committedChild, currentChild, problems);
            else if (!JsonNode.DeepEquals(committed[keyword], current[keyword]))
                problems.Add($"{path} changed its {keyword} from {committed[keyword]?.ToJsonString() ?? "(none)"} to {current[keyword]?.ToJsonString() ?? "(none)"}");
    }

    static JsonObject Shape(JsonObject schema)
    {
        var shape = new JsonObject();
        foreach (var (key, value) in schema)
            if (!StructuralKeywords.Contains(key) && !DocumentationKeywords.Contains(key))
                shape[key] = value?.DeepClone();
        return shape;
    }

    static HashSet<string> Required(JsonObject schema) =>
        (schema["required"] as JsonArray ?? []).Select(name => name!.GetValue<string>()).ToHashSet();
}
