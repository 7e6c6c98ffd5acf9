using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Contracts.Tests;

/// <summary>
/// The JSON schema of a contract's message body as MassTransit writes it (camelCase, numbers as numbers, nulls left
/// out), derived from the record with System.Text.Json's schema exporter. The committed copies live in docs/schemas,
/// one set per major version of the contracts package (&lt;Type&gt;.v&lt;major&gt;.json); older majors' files stay as
/// the promise to consumers still on that major.
/// </summary>
public static class EventSchemas
{
    /// <summary>The major version of the contracts package these tests are built against (contracts/Contracts.csproj).</summary>
    public static int MajorVersion => typeof(MetricForked).Assembly.GetName().Version!.Major;

    public static string Version => VersionOf(MajorVersion);
    public const string UpdateVariable = "UPDATE_EVENT_SCHEMAS";
    public const string EnvelopeFileName = "MassTransitEnvelope.v1.json";

    static readonly JsonSerializerOptions ContractJson = new(JsonSerializerDefaults.Web)
    {
        // Web defaults would also accept numbers written as strings; MassTransit writes (and the schema promises) numbers.
        NumberHandling = JsonNumberHandling.Strict,
        // A non-nullable reference property is never null on the wire; let the schema say so.
        RespectNullableAnnotations = true,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    static readonly JsonSchemaExporterOptions ExporterOptions = new() { TreatNullObliviousAsNonNullable = true };

    static readonly JsonSerializerOptions FileJson = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Directory => Path.Combine(RepositoryPaths.Root, "docs", "schemas");

    public static string VersionOf(int major) => $"v{major}";

    public static string FileName(Type type) => FileName(type, MajorVersion);

    public static string FileName(Type type, int major) => $"{type.Name}.{VersionOf(major)}.json";

    public static string FilePath(Type type) => FilePath(type, MajorVersion);

    public static string FilePath(Type type, int major) => Path.Combine(Directory, FileName(type, major));

    public static bool UpdateRequested => Environment.GetEnvironmentVariable(UpdateVariable) == "1";

    public static JsonObject Generate(Type type)
    {
        var body = ContractJson.GetJsonSchemaAsNode(type, ExporterOptions).AsObject();
        var schema = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["title"] = type.Name,
            ["description"] = $"The 'message' of a {ContractCatalogue.MessageUrn(type)} envelope ({Version}). Generated from contracts/{type.Name}.cs; do not edit by hand.",
        };
        foreach (var (key, value) in body) schema[key] = value?.DeepClone();
        return schema;
    }

    public static JsonObject? ReadCommitted(Type type) => ReadCommitted(type, MajorVersion);

    public static JsonObject? ReadCommitted(Type type, int major) =>
        File.Exists(FilePath(type, major)) ? JsonNode.Parse(File.ReadAllText(FilePath(type, major)))!.AsObject() : null;

    public static void Write(Type type, JsonObject schema) =>
        File.WriteAllText(FilePath(type), schema.ToJsonString(FileJson) + "\n");

    public static JsonObject ReadEnvelope() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Directory, EnvelopeFileName)))!.AsObject();
}
