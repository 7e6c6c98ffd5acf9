using MetricAlignment.TestSupport;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;
using static MetricAlignment.HostileInput.Tests.Attack;

namespace MetricAlignment.HostileInput.Tests;

[Collection(HostileServicesCollection.Name)]
public sealed class AnnotationsHostileInputTests(HostileServices services, ITestOutputHelper output)
{
    const string Ndjson = "application/x-ndjson";
    static readonly HttpMethod Post = HttpMethod.Post;
    static readonly HttpMethod Put = HttpMethod.Put;

    static string Header(string metric) =>
        new JsonObject { ["name"] = "hostile", ["status"] = "completed", ["metrics"] = new JsonArray(new JsonObject { ["metric"] = metric, ["resolution"] = "mean" }) }.ToJsonString();

    static string Row(string metric, JsonNode? score) => new JsonObject
    {
        ["externalId"] = Guid.NewGuid().ToString(), ["input"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Summarise." }),
        ["output"] = "A summary.", ["judge"] = new JsonObject { [metric] = new JsonObject { ["score"] = score, ["model"] = "gpt-4" } },
        ["annotations"] = new JsonArray(new JsonObject { ["metric"] = metric, ["reviewerId"] = "r1", ["score"] = score?.DeepClone() }),
    }.ToJsonString();

    [Fact]
    public async Task Malformed_annotation_requests_and_broken_imports_get_the_right_4xx_problem_detail_and_write_nothing()
    {
        var client = services.Annotations.Client;
        // A real metric of the in-process Metrics service, so that only the hostile part of each request is wrong.
        var metric = JsonNode.Parse(await services.Metrics.Client.GetStringAsync("/api/metrics"))!.AsArray()
            .First(m => (string?)m!["type"] == "quantitative")!;
        var key = (string)metric["key"]!;
        var aboveScale = (double)metric["scaleMax"]! + 1;
        var (row, evaluation) = (Guid.NewGuid(), Guid.NewGuid());
        var before = await DatabaseRows.CountAsync(services.Annotations.DatabaseConnectionString);
        var header = Header(key);

        Expectation[] cases =
        [
            Send("import: broken JSON line", Post, "/api/evaluations/import", $"{header}\n{Row(key, 3)}\n{{\"externalId\": \n", Ndjson).Expect(400),
            Send("import: header missing", Post, "/api/evaluations/import", $"{Row(key, 3)}\n", Ndjson).Expect(400),
            Send("import: header of the wrong type", Post, "/api/evaluations/import", "[1,2,3]\n", Ndjson).Expect(400),
            Send("import: score above the scale", Post, "/api/evaluations/import", $"{header}\n{Row(key, aboveScale)}\n", Ndjson).Expect(400),
            Send("import: score NaN as string", Post, "/api/evaluations/import", $"{header}\n{Row(key, "NaN")}\n", Ndjson).Expect(400),
            Send("import: unknown metric", Post, "/api/evaluations/import", $"{Header("no-such-metric")}\n{Row("no-such-metric", 3)}\n", Ndjson).Expect(400),
            Send("import: empty body", Post, "/api/evaluations/import", "", Ndjson).Expect(400),
            Send("import: only blank lines", Post, "/api/evaluations/import", "\n\n \r\n", Ndjson).Expect(400),
            SendBytes("import: invalid UTF-8 line", Post, "/api/evaluations/import",
                [.. Encoding.UTF8.GetBytes(header + "\n"), .. "{\"externalId\":\""u8, 0xC3, 0x28, 0xFF, .. "\"}\n"u8], Ndjson).Expect(400),
            Send("import: line longer than the line limit", Post, "/api/evaluations/import",
                $"{header}\n{Row(key, 3).Replace("A summary.", new string('s', (int)HostileServices.ImportMaxLineBytes + 10))}\n", Ndjson).Expect(400, 413),
            Send("import: 10k-deep row", Post, "/api/evaluations/import", $"{header}\n{new string('[', 10_000)}{new string(']', 10_000)}\n", Ndjson).Expect(400),
            Send("import: XML", Post, "/api/evaluations/import", "<evaluation/>", "application/xml").Expect(415),
            SendLarge("import: 200 MB, over its own limit", Post, "/api/evaluations/import", OpenApiAttacks.HugeBodyBytes, Ndjson).Expect(413),
            Send("create: name null", Post, "/api/evaluations", "{\"name\":null}").Expect(400).Blaming("name"),
            Send("create: unknown metric", Post, "/api/evaluations", "{\"name\":\"x\",\"metrics\":[{\"metric\":\"no-such-metric\",\"resolution\":\"mean\"}]}").Expect(400).Blaming("metrics"),
            Send("create: metrics of the wrong type", Post, "/api/evaluations", "{\"name\":\"x\",\"metrics\":\"all\"}").Expect(400),
            SendLarge("create: 200 MB body", Post, "/api/evaluations", OpenApiAttacks.HugeBodyBytes).Expect(413),
            Get("rows: limit -1", $"/api/evaluations/{evaluation}/rows?limit=-1").Expect(400).Blaming("limit"),
            Get("rows: limit 10^9", $"/api/evaluations/{evaluation}/rows?limit=1000000000").Expect(400).Blaming("limit"),
            Get("rows: limit beyond int", $"/api/evaluations/{evaluation}/rows?limit=99999999999").Expect(400),
            Get("rows: after garbage", $"/api/evaluations/{evaluation}/rows?after=garbage").Expect(400),
            Get("rows: unknown evaluation", $"/api/evaluations/{evaluation}/rows").Expect(404),
            Get("evaluation: empty GUID", $"/api/evaluations/{Guid.Empty}").Expect(404),
            Get("evaluation: not a GUID", "/api/evaluations/not-a-guid").Expect(404),
            Send("complete: unknown evaluation", Post, $"/api/evaluations/{evaluation}/complete", "").Expect(404),
            Send("annotate: negative score", Post, $"/api/rows/{row}/annotations", $"{{\"metric\":\"{key}\",\"reviewerId\":\"r1\",\"score\":-1}}").Expect(400).Blaming("score"),
            Send("annotate: score above the scale", Post, $"/api/rows/{row}/annotations", $"{{\"metric\":\"{key}\",\"reviewerId\":\"r1\",\"score\":{aboveScale}}}").Expect(400).Blaming("score"),
            Send("annotate: score NaN as string", Post, $"/api/rows/{row}/annotations", $"{{\"metric\":\"{key}\",\"reviewerId\":\"r1\",\"score\":\"NaN\"}}").Expect(400),
            Send("annotate: score 1e309", Post, $"/api/rows/{row}/annotations", $"{{\"metric\":\"{key}\",\"reviewerId\":\"r1\",\"score\":1e309}}").Expect(400),
            Send("annotate: reviewer missing", Post, $"/api/rows/{row}/annotations", $"{{\"metric\":\"{key}\",\"score\":3}}").Expect(400).Blaming("reviewerId"),
            Send("annotate: unknown metric", Post, $"/api/rows/{row}/annotations", "{\"metric\":\"no-such-metric\",\"reviewerId\":\"r1\",\"score\":3}").Expect(400).Blaming("metric"),
            Send("annotate: unknown row", Post, $"/api/rows/{row}/annotations", $"{{\"metric\":\"{key}\",\"reviewerId\":\"r1\",\"score\":3}}").Expect(404),
            Send("resolve: score above the scale", Put, $"/api/rows/{row}/resolutions/{key}", $"{{\"resolvedBy\":\"lead\",\"score\":{aboveScale}}}").Expect(400).Blaming("score"),
            Send("resolve: unknown metric", Put, $"/api/rows/{row}/resolutions/no-such-metric", "{\"resolvedBy\":\"lead\",\"score\":3}").Expect(404),
            Send("resolve: unknown row", Put, $"/api/rows/{row}/resolutions/{key}", "{\"resolvedBy\":\"lead\",\"score\":3}").Expect(404),
            Get("resolved rows: evaluationId garbage", $"/api/metrics/{key}/resolved-rows?evaluationId=garbage").Expect(400),
            Get("resolved rows: limit 0", $"/api/metrics/{key}/resolved-rows?limit=0").Expect(400).Blaming("limit"),
            Get("resolved rows: after garbage", $"/api/metrics/{key}/resolved-rows?after=garbage").Expect(400),
            Get("resolved rows: after unknown row", $"/api/metrics/{key}/resolved-rows?after={row}").Expect(400).Blaming("after"),
            Get("resolved rows: 150 unknown evaluations", $"/api/metrics/{key}/resolved-rows?" + string.Join("&", Enumerable.Range(0, 150).Select(_ => $"evaluationId={Guid.NewGuid()}"))).Expect(404),
            Get("resolved rows: unknown metric", "/api/metrics/no-such-metric/resolved-rows").Expect(404),
            Get("eligible: metric key of 10k characters", $"/api/metrics/{new string('k', 10_000)}/eligible-evaluations").Expect(404),
        ];

        var failures = await new Attacker(client).CheckAsync(cases, output, "Annotations (hand-written)");

        failures.Should().BeEmpty();
        (await DatabaseRows.CountAsync(services.Annotations.DatabaseConnectionString)).Should().Equal(before);
    }
}
