using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Contracts;
using MetricAlignment.DatasetImport;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Annotations.Tests;

public sealed class DatasetImportTests(AnnotationsApiFactory api) : IClassFixture<AnnotationsApiFactory>
{
    [Fact]
    public async Task Importing_the_summarization_dataset_gives_eight_eligible_evaluations_and_400_resolved_rows_per_metric()
    {
        var client = api.CreateClient().As();
        var imported = await new AnnotationsImporter(client).ImportAsync(RepositoryPaths.Dataset, null, CancellationToken.None);

        imported.Should().HaveCount(8).And.OnlyContain(e => !e.Skipped);
        imported.Sum(e => e.Rows).Should().Be(400);
        imported.Sum(e => e.Annotations).Should().Be(400 * 4 * 3);
        imported.Sum(e => e.Resolved).Should().Be(400 * 4, "the median of three reviewers always resolves");

        var eligible = await client.GetFromJsonAsync<List<EligibleEvaluation>>("/api/metrics/fluency/eligible-evaluations", AnnotationsApiFactory.Json);
        eligible.Should().HaveCount(8);
        eligible!.Select(e => e.Name).Should().BeEquivalentTo(Enumerable.Range(1, 8).Select(SummarizationDataset.EvaluationName));
        eligible.Should().OnlyContain(e => e.Status == EvaluationStatus.Completed && e.CompletedAt != null);
        eligible.Sum(e => e.ResolvedRowCount).Should().Be(400);
        eligible.Sum(e => e.RowCount).Should().Be(400);

        var response = await client.GetAsync("/api/metrics/fluency/resolved-rows");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/x-ndjson");
        var rows = await AnnotationsApiFactory.ReadNdjsonAsync<ResolvedRow>(response);
        rows.Should().HaveCount(400);
        rows.Should().OnlyContain(r => r.MetricKey == "fluency" && r.JudgeModel == "gpt-4" && r.Reviewers.Count == 3 && r.ResolutionMethod != "explicit");

        // Spot-check against the source file itself: the first line of the dataset is a relevance score, so find
        // that article and system's fluency line and compute the expected median independently.
        var source = File.ReadLines(Path.Combine(RepositoryPaths.Dataset, "rows.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        var first = source[0];
        var fluencyLine = source.Single(l =>
            (string)l["item_id"]! == (string)first["item_id"]! && (string)l["system"]! == (string)first["system"]! && (string)l["metric"]! == "fluency");
        var humans = fluencyLine["human_scores"]!.AsObject().Select(p => (double)p.Value!).Order().ToArray();

        var row = rows.Single(r => r.ExternalId == $"{first["item_id"]}/{first["system"]}");
        row.JudgeScore.Should().Be((double)fluencyLine["judge_score"]!);
        row.ResolvedScore.Should().Be(humans[1]);
        row.Reviewers.Select(r => r.Score!.Value).Order().Should().Equal(humans);
        row.Input.Text.Should().Be((string)first["source_text"]!);
        row.Output.Should().Be((string)first["system_output"]!);
        row.Tags.Should().Contain("system", (string)first["system"]!).And.Contain("batch", ((int)first["batch"]!).ToString());

        var again = await new AnnotationsImporter(client).ImportAsync(RepositoryPaths.Dataset, null, CancellationToken.None);
        again.Should().HaveCount(8).And.OnlyContain(e => e.Skipped, "an evaluation with the same name is already there");
        (await api.CountAsync("evaluations")).Should().Be(8);
    }
}
