using System.Text.Json.Nodes;

namespace MetricAlignment.Contracts.Tests;

/// <summary>
/// The versioning policy of docs/event-versioning.md as a check: within a version a message schema may only gain
/// optional properties. Anything else breaks a consumer or a sender built against the committed schema. Some changes
/// break only senders (a property they never sent is now required); a new major version of the package may make those,
/// never the ones that break consumers.
/// </summary>
public static class SchemaCompatibility
{
    // Keywords that describe the value itself; a change in any of them is a change of the property's type.
    static readonly string[] StructuralKeywords = ["properties", "required", "items", "additionalProperties"];
    static readonly string[] DocumentationKeywords = ["$schema", "$id", "title", "description", "examples"];

    sealed record Change(string Description, bool BreaksConsumers);

    /// <summary>Every change that breaks a sender or a consumer: nothing but optional properties may be added.</summary>
    public static IReadOnlyList<string> FindBreakingChanges(JsonObject committed, JsonObject current) =>
        Changes(committed, current).Select(change => change.Description).ToList();

    /// <summary>
    /// The changes that break a consumer written against <paramref name="committed"/>: what it reads is gone, has
    /// another type, or may now be absent. Newly required properties are left out: a consumer gets them and ignores them.
    /// </summary>
    public static IReadOnlyList<string> FindConsumerBreakingChanges(JsonObject committed, JsonObject current) =>
        Changes(committed, current).Where(change => change.BreaksConsumers).Select(change => change.Description).ToList();

    static List<Change> Changes(JsonObject committed, JsonObject current)
    {
        var changes = new List<Change>();
        Compare("$", committed, current, changes);
        return changes;
    }

    static void Compare(string path, JsonObject committed, JsonObject current, List<Change> changes)
    {
        var committedShape = Shape(committed);
        var currentShape = Shape(current);
        if (!JsonNode.DeepEquals(committedShape, currentShape))
        {
            if (!JsonNode.DeepEquals(WithoutNull(committedShape), currentShape))
            {
                changes.Add(new($"{path} changed its type from {committedShape.ToJsonString()} to {currentShape.ToJsonString()}", true));
                return;
            }
            // string? -> string: a consumer already handles the value; a sender that sent null is refused now.
            changes.Add(new($"{path} no longer accepts null (older senders may send it)", false));
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
                changes.Add(new($"{propertyPath} was removed or renamed", true));
                continue;
            }
            if (committedRequired.Contains(name) && !currentRequired.Contains(name))
                changes.Add(new($"{propertyPath} is no longer required (consumers rely on it being present)", true));
            if (!committedRequired.Contains(name) && currentRequired.Contains(name))
                changes.Add(new($"{propertyPath} was optional and is now required (older senders leave it out)", false));
            if (committedProperty is JsonObject committedObject && currentProperty is JsonObject currentObject)
                Compare(propertyPath, committedObject, currentObject, changes);
        }

        foreach (var (name, _) in currentProperties)
            if (!committedProperties.ContainsKey(name) && currentRequired.Contains(name))
                changes.Add(new($"{path}.{name} was added as a required property (only optional properties may be added)", false));

        foreach (var keyword in new[] { "items", "additionalProperties" })
            if (committed[keyword] is JsonObject committedChild && current[keyword] is JsonObject currentChild)
                Compare($"{path}[{keyword}]", committedChild, currentChild, changes);
            else if (!JsonNode.DeepEquals(committed[keyword], current[keyword]))
                changes.Add(new($"{path} changed its {keyword} from {committed[keyword]?.ToJsonString() ?? "(none)"} to {current[keyword]?.ToJsonString() ?? "(none)"}", true));
    }

    static JsonObject Shape(JsonObject schema)
    {
        var shape = new JsonObject();
        foreach (var (key, value) in schema)
            if (!StructuralKeywords.Contains(key) && !DocumentationKeywords.Contains(key))
                shape[key] = value?.DeepClone();
        return shape;
    }

    /// <summary>The shape with "null" taken out of its type list (["string","null"] becomes "string").</summary>
    static JsonObject WithoutNull(JsonObject shape)
    {
        var narrowed = shape.DeepClone().AsObject();
        if (narrowed["type"] is not JsonArray types || !types.Any(t => t?.GetValue<string>() == "null")) return narrowed;
        var rest = types.Where(t => t?.GetValue<string>() != "null").Select(t => t!.GetValue<string>()).ToList();
        narrowed["type"] = rest.Count == 1 ? JsonValue.Create(rest[0]) : new JsonArray(rest.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray());
        return narrowed;
    }

    static HashSet<string> Required(JsonObject schema) =>
        (schema["required"] as JsonArray ?? []).Select(name => name!.GetValue<string>()).ToHashSet();
}
