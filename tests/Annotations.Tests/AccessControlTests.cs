using System.Net;
using System.Net.Http.Json;
using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Annotations.Tests;

public sealed class AccessControlTests(AnnotationsApiFactory api) : IClassFixture<AnnotationsApiFactory>
{
    HttpClient As(string role) => api.CreateClient().As(role);

    /// <summary>An evaluation with one unannotated row, imported by an admin; returns the row id.</summary>
    async Task<Guid> NewRowAsync()
    {
        var admin = As(Roles.Admin);
        var response = await AnnotationsApiFactory.PostImportAsync(admin,
            new ImportBody($"access {Guid.NewGuid()}", ("fluency", "none")).Row("only", 4).ToString());
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var imported = await AnnotationsApiFactory.ReadAsync<Api.ImportResponse>(response);
        var page = await admin.GetFromJsonAsync<RowPage>($"/api/evaluations/{imported.EvaluationId}/rows", AnnotationsApiFactory.Json);
        return page!.Items.Single().Id;
    }

    static Task<HttpResponseMessage> AnnotateAsync(HttpClient client, Guid row, string reviewerId, double score = 3) =>
        client.PostAsJsonAsync($"/api/rows/{row}/annotations", new { metric = "fluency", reviewerId, score });

    static Task<HttpResponseMessage> ResolveAsync(HttpClient client, Guid row, double score = 2) =>
        client.PutAsJsonAsync($"/api/rows/{row}/resolutions/fluency", new { resolvedBy = "lead", score, note = "decided" });

    [Fact]
    public async Task An_anonymous_caller_gets_401_problem_details_and_writes_nothing()
    {
        var anonymous = api.CreateClient();
        var row = await NewRowAsync();
        var before = await api.CountAllAsync();

        var list = await anonymous.GetAsync("/api/evaluations");
        var import = await AnnotationsApiFactory.PostImportAsync(anonymous, new ImportBody("anonymous", ("fluency", "none")).Row("a", 4).ToString());
        var annotate = await AnnotateAsync(anonymous, row, "ann");
        var stream = await anonymous.GetAsync("/api/metrics/fluency/resolved-rows");

        foreach (var response in new[] { list, import, annotate, stream })
        {
            response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
        }
        (await api.CountAllAsync()).Should().Be(before);
    }

    [Fact]
    public async Task A_viewer_reads_but_cannot_import_nor_annotate()
    {
        var viewer = As(Roles.Viewer);
        var row = await NewRowAsync();
        var before = await api.CountAllAsync();

        (await viewer.GetAsync("/api/evaluations")).StatusCode.Should().Be(HttpStatusCode.OK);
        var import = await AnnotationsApiFactory.PostImportAsync(viewer, new ImportBody("by a viewer", ("fluency", "none")).Row("a", 4).ToString());
        var create = await viewer.PostAsJsonAsync("/api/evaluations", new { name = "by a viewer" });
        var annotate = await AnnotateAsync(viewer, row, "test-viewer");

        import.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        import.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
        create.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        annotate.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await api.CountAllAsync()).Should().Be(before, "a refused request writes nothing");
    }

    [Fact]
    public async Task An_annotator_annotates_as_themself_but_cannot_resolve()
    {
        var annotator = As(Roles.Annotator);
        var row = await NewRowAsync();

        var annotated = await AnnotateAsync(annotator, row, "test-annotator", 4);
        var resolved = await ResolveAsync(annotator, row);

        annotated.StatusCode.Should().Be(HttpStatusCode.Created, await annotated.Content.ReadAsStringAsync());
        resolved.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await api.CountAsync($"resolution_history WHERE row_id = '{row}' AND method = 'explicit'")).Should().Be(0);
        (await api.CountAsync($"annotations WHERE row_id = '{row}' AND reviewer_id = 'test-annotator'")).Should().Be(1);
    }

    [Fact]
    public async Task An_annotator_cannot_annotate_as_another_reviewer()
    {
        var annotator = As(Roles.Annotator);
        var row = await NewRowAsync();

        var response = await AnnotateAsync(annotator, row, "someone-else");

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await AnnotationsApiFactory.ReadAsync<ProblemDetails>(response)).Detail.Should().Contain("someone-else");
        (await api.CountAsync($"annotations WHERE row_id = '{row}'")).Should().Be(0);
    }

    [Fact]
    public async Task An_admin_resolves_and_may_annotate_on_a_reviewers_behalf()
    {
        var admin = As(Roles.Admin);
        var row = await NewRowAsync();

        var onBehalf = await AnnotateAsync(admin, row, "paper-reviewer", 5);
        var resolved = await ResolveAsync(admin, row, 2);

        onBehalf.StatusCode.Should().Be(HttpStatusCode.Created);
        resolved.StatusCode.Should().Be(HttpStatusCode.OK, await resolved.Content.ReadAsStringAsync());
        var resolution = await AnnotationsApiFactory.ReadAsync<ResolutionView>(resolved);
        resolution.Method.Should().Be("explicit");
        resolution.Score.Should().Be(2);
        resolution.ResolvedBy.Should().Be("lead");
    }

    [Fact]
    public async Task A_metric_editor_imports_but_cannot_annotate()
    {
        var editor = As(Roles.MetricEditor);
        var row = await NewRowAsync();

        var import = await AnnotationsApiFactory.PostImportAsync(editor, new ImportBody($"by an editor {Guid.NewGuid()}", ("fluency", "none")).Row("a", 4).ToString());
        var annotate = await AnnotateAsync(editor, row, "test-metric-editor");

        import.StatusCode.Should().Be(HttpStatusCode.Created);
        annotate.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }
}
