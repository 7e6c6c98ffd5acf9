using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;

namespace MetricAlignment.EndToEnd.Tests;

[Collection(DistributedAppCollection.Name)]
public sealed class DatasetImportTests(DistributedAppFixture fixture)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    sealed record EligibleEvaluation(Guid EvaluationId, string Name, string Status, int RowCount, int ResolvedRowCount);

    [Fact]
    public async Task The_dataset_imports_as_eight_evaluations_with_resolved_fluency_annotations()
    {
        var imported = await fixture.EnsureDatasetImportedAsync();
        using var annotations = fixture.CreateClient("annotations");

        var eligible = await annotations.GetFromJsonAsync<List<EligibleEvaluation>>("api/metrics/fluency/eligible-evaluations", Json);

        imported.Should().HaveCount(8);
        eligible.Should().HaveCount(8);
        eligible!.Should().OnlyContain(e => e.Status == "completed" && e.ResolvedRowCount == e.RowCount && e.RowCount > 0);
        eligible.Sum(e => e.ResolvedRowCount).Should().Be(400);
        eligible.Select(e => e.EvaluationId).Should().BeEquivalentTo(imported.Select(i => i.EvaluationId!.Value));
    }

    [Fact]
    public async Task Resolved_fluency_rows_read_back_with_the_judge_score_and_the_median_of_the_reviewers()
    {
        await fixture.EnsureDatasetImportedAsync();
        using var annotations = fixture.CreateClient("annotations");
        var eligible = (await annotations.GetFromJsonAsync<List<EligibleEvaluation>>("api/metrics/fluency/eligible-evaluations", Json))!;
        var query = string.Join("&", eligible.Select(e => $"evaluationId={e.EvaluationId}"));

        var rows = new List<ResolvedRow>();
        await using (var stream = await annotations.GetStreamAsync($"api/metrics/fluency/resolved-rows?{query}"))
        using (var reader = new StreamReader(stream))
        {
            while (await reader.ReadLineAsync() is { } line)
                if (line.Length > 0) rows.Add(JsonSerializer.Deserialize<ResolvedRow>(line, Json)!);
        }

        var expected = ReadFluencyFromSourceFile();
        rows.Should().HaveCount(400);
        foreach (var row in rows)
        {
            var key = (row.Tags["item_id"], row.Tags["system"]);
            row.JudgeScore.Should().Be(expected[key].Judge, "judge score of {0}", key);
            row.ResolvedScore.Should().Be(expected[key].Median, "median of the reviewers of {0}", key);
            row.Reviewers.Should().HaveCount(3);
        }
        rows.Average(r => r.JudgeScore!.Value - r.ResolvedScore!.Value).Should().BeApproximately(0.80, 0.005);
    }

    [Fact]
    public async Task A_malformed_import_is_refused_naming_the_line_and_nothing_is_written()
    {
        await fixture.EnsureDatasetImportedAsync();
        using var annotations = fixture.CreateClient("annotations");
        var before = await annotations.GetStringAsync("api/evaluations");
        var ndjson = string.Join('\n',
            """{"type":"evaluation","name":"broken import","status":"completed","metrics":[{"metric":"fluency","resolution":"median"}]}""",
            """{"externalId":"r1","input":{"text":"source"},"output":"summary","judge":{"fluency":{"score":4}},"annotations":[{"metric":"fluency","reviewerId":"a","score":4}]}""",
            """{"externalId":"r2","input":{"text":"source"},"output":"summary","judge":{"fluency":{"score":9}},"annotations":[]}""",
            """{"externalId":"r3", this is not json""");
        using var content = new StringContent(ndjson, Encoding.UTF8, "application/x-ndjson");

        using var response = await annotations.PostAsync("api/evaluations/import", content);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadAsStringAsync();
        problem.Should().Contain("line 3").And.Contain("line 4");
        (await annotations.GetStringAsync("api/evaluations")).Should().Be(before);
    }

    static Dictionary<(string ItemId, string System), (double Judge, double Median)> ReadFluencyFromSourceFile()
    {
        var result = new Dictionary<(string, string), (double, double)>();
        foreach (var line in File.ReadLines(Path.Combine(RepositoryPaths.Dataset, "rows.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.GetProperty("metric").GetString() != "fluency") continue;
            var scores = root.GetProperty("human_scores").EnumerateObject().Select(p => p.Value.GetDouble()).Order().ToArray();
            result[(root.GetProperty("item_id").GetString()!, root.GetProperty("system").GetString()!)] =
                (root.GetProperty("judge_score").GetDouble(), scores[1]);
        }
        return result;
    }
}
