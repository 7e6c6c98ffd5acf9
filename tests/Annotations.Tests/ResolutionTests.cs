using System.Net;
using System.Net.Http.Json;
using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Rows;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Annotations.Tests;

public sealed class ResolutionTests(AnnotationsApiFactory api) : IClassFixture<AnnotationsApiFactory>
{
    readonly HttpClient client = api.CreateClient().As();

    /// <summary>A fresh evaluation with one unannotated row (fluency, no bulk rule); returns the row id.</summary>
    async Task<Guid> NewRowAsync(string resolution = "none")
    {
        var body = new ImportBody($"resolution {Guid.NewGuid()}", ("fluency", resolution), ("tone", "none")).Row("only", 4);
        var response = await AnnotationsApiFactory.PostImportAsync(client, body.ToString());
        response.StatusCode.Should().Be(HttpStatusCode.Created);
        var imported = await AnnotationsApiFactory.ReadAsync<Api.ImportResponse>(response);
        var page = await client.GetFromJsonAsync<RowPage>($"/api/evaluations/{imported.EvaluationId}/rows", AnnotationsApiFactory.Json);
        return page!.Items.Single().Id;
    }

    async Task<AnnotationResult> AnnotateAsync(Guid rowId, string reviewer, double score, HttpStatusCode expected = HttpStatusCode.Created)
    {
        var response = await client.PostAsJsonAsync($"/api/rows/{rowId}/annotations", new { metric = "fluency", reviewerId = reviewer, score, comment = "why" });
        response.StatusCode.Should().Be(expected, await response.Content.ReadAsStringAsync());
        return await AnnotationsApiFactory.ReadAsync<AnnotationResult>(response);
    }

    async Task<List<ResolutionHistoryEntry>> HistoryAsync(Guid rowId) =>
        (await client.GetFromJsonAsync<List<ResolutionHistoryEntry>>($"/api/rows/{rowId}/resolutions/fluency/history", AnnotationsApiFactory.Json))!;

    [Fact]
    public async Task A_single_reviewer_resolves_automatically()
    {
        var row = await NewRowAsync();

        var result = await AnnotateAsync(row, "ann", 3);

        result.Resolution.Should().NotBeNull();
        result.Resolution!.Score.Should().Be(3);
        result.Resolution.Method.Should().Be("single_reviewer");
    }

    [Fact]
    public async Task Unanimous_reviewers_resolve_automatically()
    {
        var row = await NewRowAsync();
        await AnnotateAsync(row, "ann", 4);

        var result = await AnnotateAsync(row, "bob", 4);

        result.Resolution!.Method.Should().Be("unanimous");
        result.Resolution.Score.Should().Be(4);
    }

    [Fact]
    public async Task Disagreement_stays_unresolved_until_a_person_resolves_it_and_revisions_are_kept()
    {
        var row = await NewRowAsync();
        await AnnotateAsync(row, "ann", 2);
        var disagreement = await AnnotateAsync(row, "bob", 5);
        disagreement.Resolution.Should().BeNull("two reviewers disagree and no bulk rule was chosen");

        var resolved = await client.PutAsJsonAsync($"/api/rows/{row}/resolutions/fluency", new { resolvedBy = "lead", score = 3, note = "discussed" });
        resolved.StatusCode.Should().Be(HttpStatusCode.OK);
        (await AnnotationsApiFactory.ReadAsync<ResolutionView>(resolved)).Method.Should().Be("explicit");

        var revised = await client.PutAsJsonAsync($"/api/rows/{row}/resolutions/fluency", new { resolvedBy = "lead", score = 4, note = "re-read" });
        var revision = await AnnotationsApiFactory.ReadAsync<ResolutionView>(revised);
        revision.Score.Should().Be(4);

        // A later annotation does not overturn a person's decision.
        var later = await AnnotateAsync(row, "cy", 1);
        later.Resolution!.Score.Should().Be(4);
        later.Resolution.Method.Should().Be("explicit");

        var history = await HistoryAsync(row);
        history.Select(h => (h.Method, h.Score, h.ResolvedBy)).Should().Equal(
            ("single_reviewer", 2, null),
            ("unresolved", null, null),
            ("explicit", 3, "lead"),
            ("explicit", 4, "lead"));
        history.Select(h => h.Revision).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        revision.Revision.Should().Be(history[^1].Revision);
    }

    [Fact]
    public async Task Re_annotating_replaces_the_reviewers_earlier_annotation()
    {
        var row = await NewRowAsync();
        await AnnotateAsync(row, "ann", 2);
        await AnnotateAsync(row, "bob", 5);

        var replaced = await AnnotateAsync(row, "bob", 2, HttpStatusCode.OK);

        replaced.Resolution!.Method.Should().Be("unanimous");
        (await api.CountAsync($"annotations WHERE row_id = '{row}'")).Should().Be(2);
        (await api.CountAsync($"annotation_revisions WHERE row_id = '{row}'")).Should().Be(1);
    }

    [Fact]
    public async Task A_bulk_median_rule_resolves_disagreements_as_annotations_arrive()
    {
        var row = await NewRowAsync("median");
        await AnnotateAsync(row, "ann", 1);
        await AnnotateAsync(row, "bob", 4);

        var result = await AnnotateAsync(row, "cy", 5);

        result.Resolution!.Method.Should().Be("median");
        result.Resolution.Score.Should().Be(4);
    }

    [Fact]
    public async Task Annotations_outside_the_scale_or_for_unknown_rows_and_metrics_are_refused()
    {
        var row = await NewRowAsync();

        var outside = await client.PostAsJsonAsync($"/api/rows/{row}/annotations", new { metric = "fluency", reviewerId = "ann", score = 7 });
        outside.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await outside.Content.ReadAsStringAsync()).Should().Contain("outside the scale");

        var badLabel = await client.PostAsJsonAsync($"/api/rows/{row}/annotations", new { metric = "tone", reviewerId = "ann", label = "sarcastic" });
        badLabel.StatusCode.Should().Be(HttpStatusCode.BadRequest);

        var unknownMetric = await client.PostAsJsonAsync($"/api/rows/{row}/annotations", new { metric = "humour", reviewerId = "ann", score = 3 });
        unknownMetric.StatusCode.Should().Be(HttpStatusCode.BadRequest);

        var unknownRow = await client.PostAsJsonAsync($"/api/rows/{Guid.NewGuid()}/annotations", new { metric = "fluency", reviewerId = "ann", score = 3 });
        unknownRow.StatusCode.Should().Be(HttpStatusCode.NotFound);

        (await api.CountAsync($"annotations WHERE row_id = '{row}'")).Should().Be(0);
    }

    [Fact]
    public async Task Qualitative_labels_resolve_by_majority_when_the_rule_says_so()
    {
        var body = new ImportBody($"tone {Guid.NewGuid()}", ("tone", "majority"))
            .Line("""{"input": "x", "output": "y", "annotations": [{"metric": "tone", "reviewerId": "a", "label": "formal"}, {"metric": "tone", "reviewerId": "b", "label": "formal"}, {"metric": "tone", "reviewerId": "c", "label": "rude"}]}""")
            .Line("""{"input": "x", "output": "y", "annotations": [{"metric": "tone", "reviewerId": "a", "label": "formal"}, {"metric": "tone", "reviewerId": "b", "label": "casual"}, {"metric": "tone", "reviewerId": "c", "label": "rude"}]}""");
        var response = await AnnotationsApiFactory.PostImportAsync(client, body.ToString());
        var imported = await AnnotationsApiFactory.ReadAsync<Api.ImportResponse>(response);

        imported.Resolved.Should().Be(1, "a three-way split has no majority");
        var page = await client.GetFromJsonAsync<RowPage>($"/api/evaluations/{imported.EvaluationId}/rows", AnnotationsApiFactory.Json);
        var tone = page!.Items[0].Metrics.Single(m => m.MetricKey == "tone");
        tone.Resolution!.Label.Should().Be("formal");
        tone.Resolution.Method.Should().Be("majority");
        page.Items[1].Metrics.Single().Resolution.Should().BeNull();
    }

    [Fact]
    public async Task Creating_and_completing_an_evaluation()
    {
        var created = await client.PostAsJsonAsync("/api/evaluations", new { name = "manual", metrics = new[] { new { metric = "fluency", resolution = "mean" } } });
        created.StatusCode.Should().Be(HttpStatusCode.Created);
        var evaluation = await AnnotationsApiFactory.ReadAsync<EvaluationView>(created);
        evaluation.Status.Should().Be(EvaluationStatus.Running);
        evaluation.Metrics.Single().ResolutionRule.Should().Be("mean");

        var completed = await client.PostAsync($"/api/evaluations/{evaluation.Id}/complete", null);
        var view = await AnnotationsApiFactory.ReadAsync<EvaluationView>(completed);
        view.Status.Should().Be(EvaluationStatus.Completed);
        view.CompletedAt.Should().NotBeNull();

        (await client.PostAsync($"/api/evaluations/{Guid.NewGuid()}/complete", null)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await client.PostAsJsonAsync("/api/evaluations", new { name = "" })).StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }
}
