using System.Text;
using System.Text.Json.Nodes;

namespace MetricAlignment.HostileInput.Tests;

/// <summary>An operation of a service's OpenAPI document: what the sweep needs to aim at it.</summary>
public sealed record Operation(HttpMethod Method, string PathTemplate, IReadOnlyList<string> QueryParameters,
    IReadOnlyList<string> BodyProperties, bool TakesBody)
{
    public override string ToString() => $"{Method} {PathTemplate}";
}

/// <summary>
/// Derives hostile requests from a service's OpenAPI document, so that an endpoint added later is attacked without
/// anyone writing a test for it: garbage in every path parameter, query parameter and body.
/// </summary>
public static class OpenApiAttacks
{
    public const long HugeBodyBytes = 200L << 20;
    const int HostileDepth = 10_000;

    public static IReadOnlyList<Operation> Operations(JsonNode document)
    {
        var operations = new List<Operation>();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                if (method is "parameters" or "summary" or "description" or "servers") continue;
                var query = (operation!["parameters"]?.AsArray() ?? [])
                    .Where(p => (string?)p!["in"] == "query").Select(p => (string)p!["name"]!).ToList();
                var body = operation["requestBody"];
                var schema = body?["content"]?.AsObject().Select(c => c.Value?["schema"]).FirstOrDefault();
                operations.Add(new Operation(new HttpMethod(method.ToUpperInvariant()), path, query,
                    PropertiesOf(schema, document), body is not null || method is "post" or "put" or "patch"));
            }
        }
        return operations;
    }

    static IReadOnlyList<string> PropertiesOf(JsonNode? schema, JsonNode document)
    {
        for (var hops = 0; schema?["$ref"] is { } reference && hops < 5; hops++)
            schema = document["components"]?["schemas"]?[((string)reference!).Split('/')[^1]];
        return schema?["properties"]?.AsObject().Select(p => p.Key).ToList() ?? [];
    }

    /// <summary>Values no path parameter should accept; an id-like parameter gets unknown ids as well.</summary>
    public static readonly string[] PathGarbage =
    [
        Guid.NewGuid().ToString(), Guid.Empty.ToString(), "not-a-guid", "-1", "99999999999999999999", "%20", "..%2F..%2Fetc%2Fpasswd",
        Uri.EscapeDataString("ü€𝄞\u202e"), Uri.EscapeDataString("'; DROP TABLE metrics; --"), new string('x', 4_000),
    ];

    public static readonly string[] QueryGarbage =
    [
        "-1", "0", "1000000000", "99999999999999999999", "garbage", "NaN", "1e309", "", Guid.Empty.ToString(), new string('9', 4_000),
        Uri.EscapeDataString("\"}]{"), "%FF%FE",
    ];

    public static IEnumerable<Attack> For(Operation operation)
    {
        // Path parameters: every garbage value in every parameter (the others a fresh GUID, so only one thing is wrong).
        var parameters = System.Text.RegularExpressions.Regex.Matches(operation.PathTemplate, @"\{([^}:]+)[^}]*\}").Select(m => m.Value).ToList();
        string Fill(string? garbageFor = null, string? garbage = null)
        {
            var path = operation.PathTemplate;
            foreach (var parameter in parameters) path = path.Replace(parameter, parameter == garbageFor ? garbage : Guid.NewGuid().ToString());
            return path;
        }

        foreach (var parameter in parameters)
            foreach (var garbage in PathGarbage)
                yield return Emptily(operation, Fill(parameter, garbage), $"path {parameter} = {Shorten(garbage)}");

        foreach (var name in operation.QueryParameters)
        {
            foreach (var garbage in QueryGarbage)
                yield return Emptily(operation, $"{Fill()}?{name}={garbage}", $"query {name} = {Shorten(garbage)}");
            yield return Emptily(operation, $"{Fill()}?{name}=1&{name}=2&{name}=garbage", $"query {name} repeated");
        }

        if (!operation.TakesBody) yield break;
        var url = Fill();
        foreach (var attack in Bodies(operation, url)) yield return attack;
    }

    static Attack Emptily(Operation operation, string url, string description) =>
        operation.TakesBody ? Attack.Send(description, operation.Method, url, "{}") : new Attack(description, operation.Method, url);

    static IEnumerable<Attack> Bodies(Operation operation, string url)
    {
        var method = operation.Method;
        foreach (var (description, body) in new (string, string)[]
        {
            ("empty body", ""), ("null", "null"), ("array", "[]"), ("number", "42"), ("string", "\"text\""), ("boolean", "true"),
            ("truncated object", "{"), ("trailing garbage", "{} x"), ("comment", "{/* */}"), ("single quotes", "{'name':'x'}"),
            ("empty object", "{}"), ("lone surrogate", "{\"name\":\"\\ud800\"}"),
            ("deeply nested arrays", new string('[', HostileDepth) + new string(']', HostileDepth)),
            ("deeply nested objects", string.Concat(Enumerable.Repeat("{\"a\":", HostileDepth)) + "1" + new string('}', HostileDepth)),
        })
            yield return Attack.Send(description, method, url, body);

        yield return Attack.SendBytes("invalid UTF-8", method, url, [.. "{\"name\":\""u8, 0xC3, 0x28, 0xFF, 0xFE, .. "\"}"u8]);
        yield return Attack.Send("wrong content type text/plain", method, url, "{}", "text/plain");
        yield return Attack.Send("wrong content type xml", method, url, "<metric/>", "application/xml");
        yield return Attack.Send("form content", method, url, "name=x", "application/x-www-form-urlencoded");
        yield return Attack.Send("no content type", method, url, "{}", "");
        yield return Attack.Send("malformed content type", method, url, "{}", "application/json; charset=");
        yield return Attack.SendLarge("200 MB body", method, url, HugeBodyBytes);

        // Every declared property of the wrong type at once, and each alone as null (a missing required field).
        var properties = operation.BodyProperties;
        foreach (var (description, value) in new (string, Func<JsonNode?>)[]
        {
            ("object", () => new JsonObject { ["x"] = new JsonArray(1, 2) }), ("array", () => new JsonArray("a", 1)),
            ("huge number", () => JsonValue.Create(1e308)), ("string", () => "garbage"), ("null", () => null),
        })
        {
            if (properties.Count == 0) break;
            var body = new JsonObject();
            foreach (var property in properties) body[property] = value();
            yield return Attack.Send($"every property {description}", method, url, body.ToJsonString());
        }
        foreach (var property in properties)
            yield return Attack.Send($"only {property}, of the wrong type", method, url, new JsonObject { [property] = new JsonObject() }.ToJsonString());
    }

    static string Shorten(string value) => value.Length > 24 ? value[..24] + $"…({value.Length})" : value;

    public static string Describe(IEnumerable<Operation> operations) =>
        new StringBuilder().AppendJoin(", ", operations.Select(o => o.ToString())).ToString();
}
