using MetricAlignment.TestSupport;
using System.Text.Json.Nodes;
using Xunit.Abstractions;
using static MetricAlignment.HostileInput.Tests.Attack;

namespace MetricAlignment.HostileInput.Tests;

[Collection(HostileServicesCollection.Name)]
public sealed class AlignmentHostileInputTests(HostileServices services, ITestOutputHelper output)
{
    static readonly HttpMethod Post = HttpMethod.Post;

    static string Start(Action<JsonObject> change)
    {
        var body = new JsonObject
        {
            ["metricId"] = FakeMetricsClient.KnownMetricId.ToString(), ["evaluationIds"] = new JsonArray(Guid.NewGuid().ToString()), ["deltaThreshold"] = 1,
        };
        change(body);
        return body.ToJsonString();
    }

    [Fact]
    public async Task Malformed_alignment_requests_get_the_right_4xx_problem_detail_and_start_nothing()
    {
        var client = services.Alignment.Client;
        var run = Guid.NewGuid();
        var before = await DatabaseRows.CountAsync(services.Alignment.DatabaseConnectionString);
        var duplicate = Guid.NewGuid().ToString();
        var hundredThousandIds = new JsonArray(Enumerable.Range(0, 100_000).Select(_ => (JsonNode)JsonValue.Create(Guid.NewGuid().ToString())).ToArray());

        Expectation[] cases =
        [
            Send("100k evaluation ids", Post, "/api/alignment-runs", Start(b => b["evaluationIds"] = hundredThousandIds)).Expect(400, 413).Blaming("evaluationIds"),
            Send("negative threshold", Post, "/api/alignment-runs", Start(b => b["deltaThreshold"] = -1)).Expect(400).Blaming("deltaThreshold"),
            Send("zero threshold", Post, "/api/alignment-runs", Start(b => b["deltaThreshold"] = 0)).Expect(400).Blaming("deltaThreshold"),
            Send("threshold above the scale", Post, "/api/alignment-runs", Start(b => b["deltaThreshold"] = 99)).Expect(400).Blaming("deltaThreshold"),
            Send("threshold NaN as string", Post, "/api/alignment-runs", Start(b => b["deltaThreshold"] = "NaN")).Expect(400),
            Send("threshold Infinity as string", Post, "/api/alignment-runs", Start(b => b["deltaThreshold"] = "Infinity")).Expect(400),
            Send("metric id not a GUID", Post, "/api/alignment-runs", Start(b => b["metricId"] = "not-a-guid")).Expect(400),
            Send("metric id empty GUID", Post, "/api/alignment-runs", Start(b => b["metricId"] = Guid.Empty.ToString())).Expect(400).Blaming("metricId"),
            Send("metric id missing", Post, "/api/alignment-runs", Start(b => b.Remove("metricId"))).Expect(400).Blaming("metricId"),
            Send("unknown metric", Post, "/api/alignment-runs", Start(b => b["metricId"] = Guid.NewGuid().ToString())).Expect(404),
            Send("no evaluations", Post, "/api/alignment-runs", Start(b => b["evaluationIds"] = new JsonArray())).Expect(400).Blaming("evaluationIds"),
            Send("evaluation listed twice", Post, "/api/alignment-runs", Start(b => b["evaluationIds"] = new JsonArray(duplicate, duplicate))).Expect(400).Blaming("evaluationIds"),
            Send("evaluation ids of the wrong type", Post, "/api/alignment-runs", Start(b => b["evaluationIds"] = "all")).Expect(400),
            Send("unknown evaluation", Post, "/api/alignment-runs", Start(_ => { })).Expect(400).Blaming("evaluationIds"),
            Send("unknown provider", Post, "/api/alignment-runs", Start(b => b["reflectionProvider"] = "no-such-provider")).Expect(400).Blaming("reflectionProvider"),
            Send("body null", Post, "/api/alignment-runs", "null").Expect(400),
            Send("empty body", Post, "/api/alignment-runs", "").Expect(400),
            SendLarge("200 MB body", Post, "/api/alignment-runs", OpenApiAttacks.HugeBodyBytes).Expect(413),
            Get("unknown run", $"/api/alignment-runs/{run}").Expect(404),
            Get("empty-GUID run", $"/api/alignment-runs/{Guid.Empty}").Expect(404),
            Get("run id not a GUID", "/api/alignment-runs/garbage").Expect(404),
            Send("accept with a flag of the wrong type", Post, $"/api/alignment-runs/{run}/accept", "{\"overrideNewerVersion\":\"yes\"}").Expect(400),
            Send("accept unknown run", Post, $"/api/alignment-runs/{run}/accept", "{}").Expect(404),
            Send("cancel unknown run", Post, $"/api/alignment-runs/{run}/cancel", "").Expect(404),
            Send("retry unknown run", Post, $"/api/alignment-runs/{run}/retry", "").Expect(404),
            Get("eligible evaluations of an unknown metric", $"/api/metrics/{Guid.NewGuid()}/eligible-evaluations").Expect(404),
        ];

        var failures = await new Attacker(client).CheckAsync(cases, output, "Alignment (hand-written)");

        failures.Should().BeEmpty();
        (await DatabaseRows.CountAsync(services.Alignment.DatabaseConnectionString)).Should().Equal(before);
    }
}
