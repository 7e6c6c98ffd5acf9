using MetricAlignment.TestSupport;
using System.Text.Json.Nodes;
using Xunit.Abstractions;
using static MetricAlignment.HostileInput.Tests.Attack;

namespace MetricAlignment.HostileInput.Tests;

[Collection(HostileServicesCollection.Name)]
public sealed class MetricsHostileInputTests(HostileServices services, ITestOutputHelper output)
{
    static readonly HttpMethod Post = HttpMethod.Post;
    static readonly string Megabyte = new('p', 1 << 20);

    static JsonObject ValidMetric() => new()
    {
        ["name"] = $"Tone {Guid.NewGuid():N}", ["description"] = "How well the tone suits the user.", ["type"] = "quantitative",
        ["scaleMin"] = 1, ["scaleMax"] = 5, ["scope"] = "turn", ["systemPrompt"] = "You judge tone.",
        ["userPromptTemplate"] = "User: {{input}}\nAssistant: {{output}}\nScore the tone.", ["author"] = "test@example.com",
    };

    static string With(JsonObject body, string property, JsonNode? value)
    {
        body[property] = value;
        return body.ToJsonString();
    }

    static string Nested(int depth) => string.Concat(Enumerable.Repeat("[", depth)) + "\"x\"" + new string(']', depth);

    [Fact]
    public async Task Malformed_metric_requests_get_the_right_4xx_problem_detail_and_write_nothing()
    {
        var client = services.Metrics.Client;
        var builtIn = (string)JsonNode.Parse(await client.GetStringAsync("/api/metrics?kind=built_in"))!.AsArray()[0]!["key"]!;
        var unknown = Guid.NewGuid();
        var before = await DatabaseRows.CountAsync(services.Metrics.DatabaseConnectionString);
        var version = new JsonObject { ["systemPrompt"] = "You judge.", ["userPromptTemplate"] = "{{output}}", ["author"] = "a@b.c", ["changeNote"] = "n" };

        Expectation[] cases =
        [
            Send("1 MB system prompt", Post, "/api/metrics", With(ValidMetric(), "systemPrompt", Megabyte)).Expect(400).Blaming("systemPrompt"),
            Send("1 MB user prompt", Post, "/api/metrics", With(ValidMetric(), "userPromptTemplate", Megabyte + "{{output}}")).Expect(400).Blaming("userPromptTemplate"),
            Send("scaleMin NaN as string", Post, "/api/metrics", With(ValidMetric(), "scaleMin", "NaN")).Expect(400),
            Send("scaleMax beyond double", Post, "/api/metrics", ValidMetric().ToJsonString().Replace("\"scaleMax\":5", "\"scaleMax\":1e309")).Expect(400),
            Send("scale upside down", Post, "/api/metrics", With(ValidMetric(), "scaleMin", 10)).Expect(400),
            Send("100k labels", Post, "/api/metrics", QualitativeWith(100_000).ToJsonString()).Expect(400).Blaming("labels"),
            Send("unknown type", Post, "/api/metrics", With(ValidMetric(), "type", "quantum")).Expect(400).Blaming("type"),
            Send("name null", Post, "/api/metrics", With(ValidMetric(), "name", null)).Expect(400).Blaming("name"),
            Send("name a number", Post, "/api/metrics", With(ValidMetric(), "name", 42)).Expect(400),
            Send("required fields missing", Post, "/api/metrics", "{\"description\":\"only this\"}").Expect(400).Blaming("name"),
            Send("description nested 100 deep", Post, "/api/metrics", ValidMetric().ToJsonString().Replace("\"How well the tone suits the user.\"", Nested(100))).Expect(400),
            Send("duplicate property", Post, "/api/metrics", "{\"name\":\"a\",\"name\":{}}").Expect(400),
            SendLarge("200 MB body", Post, "/api/metrics", OpenApiAttacks.HugeBodyBytes).Expect(413),
            Send("wrong content type", Post, "/api/metrics", ValidMetric().ToJsonString(), "text/plain").Expect(415),
            Send("unknown charset", Post, "/api/metrics", ValidMetric().ToJsonString(), "application/json; charset=klingon").Expect(415),
            Send("version of unknown metric", Post, $"/api/metrics/{unknown}/versions", version.ToJsonString()).Expect(404),
            Send("version of empty-GUID metric", Post, $"/api/metrics/{Guid.Empty}/versions", version.ToJsonString()).Expect(404),
            Send("negative expected version", Post, $"/api/metrics/{builtIn}/versions", With(version.DeepClone().AsObject(), "expectedCurrentVersion", -5)).Expect(400, 409),
            Send("fork of unknown metric", Post, $"/api/metrics/{unknown}/fork", "{\"name\":\"Fork\",\"author\":\"a@b.c\"}").Expect(404),
            Send("fork of version -1", Post, $"/api/metrics/{builtIn}/fork", "{\"name\":\"Fork\",\"author\":\"a@b.c\",\"version\":-1}").Expect(400).Blaming("version"),
            Get("unknown kind", "/api/metrics?kind=garbage").Expect(400).Blaming("kind"),
            Get("unknown metric", $"/api/metrics/{unknown}").Expect(404),
            Get("version 0", $"/api/metrics/{builtIn}/versions/0").Expect(404),
            Get("version beyond int", $"/api/metrics/{builtIn}/versions/99999999999").Expect(404),
            Get("key of 10k characters", $"/api/metrics/{new string('k', 10_000)}").Expect(404),
        ];

        var failures = await new Attacker(client).CheckAsync(cases, output, "Metrics (hand-written)");

        failures.Should().BeEmpty();
        (await DatabaseRows.CountAsync(services.Metrics.DatabaseConnectionString)).Should().Equal(before);
    }

    static JsonObject QualitativeWith(int labels)
    {
        var body = ValidMetric();
        body["type"] = "qualitative";
        body.Remove("scaleMin");
        body.Remove("scaleMax");
        body["labels"] = new JsonArray(Enumerable.Range(0, labels).Select(i => (JsonNode)JsonValue.Create($"l{i}")).ToArray());
        return body;
    }
}
