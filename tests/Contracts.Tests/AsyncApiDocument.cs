using System.Globalization;
using System.Text.Json.Nodes;
using MetricAlignment.TestSupport;
using YamlDotNet.RepresentationModel;

namespace MetricAlignment.Contracts.Tests;

/// <summary>docs/asyncapi.yaml read as JSON nodes, so the tests can walk it like any JSON document.</summary>
public static class AsyncApiDocument
{
    public static string FilePath => Path.Combine(RepositoryPaths.Root, "docs", "asyncapi.yaml");

    public static JsonObject Load()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(FilePath)) yaml.Load(reader);
        return ToJson(yaml.Documents[0].RootNode)!.AsObject();
    }

    /// <summary>Follows a local reference such as '#/components/messages/MetricForked'.</summary>
    public static JsonNode Resolve(JsonObject document, string reference)
    {
        reference.Should().StartWith("#/", "only local references are resolved here");
        JsonNode node = document;
        foreach (var segment in reference[2..].Split('/'))
            node = node[segment.Replace("~1", "/").Replace("~0", "~")]
                ?? throw new KeyNotFoundException($"{reference} does not resolve in docs/asyncapi.yaml (missing '{segment}')");
        return node;
    }

    static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(child =>
            KeyValuePair.Create(((YamlScalarNode)child.Key).Value!, ToJson(child.Value)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new NotSupportedException(node.NodeType.ToString()),
    };

    static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        // Only plain (unquoted) scalars carry YAML's implicit types; quoted ones are always strings.
        if (scalar.Style is not YamlDotNet.Core.ScalarStyle.Plain) return JsonValue.Create(value);
        if (value is "null" or "~" or "") return null;
        if (value is "true" or "false") return JsonValue.Create(value == "true");
        if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer)) return JsonValue.Create(integer);
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)) return JsonValue.Create(number);
        return JsonValue.Create(value);
    }
}
