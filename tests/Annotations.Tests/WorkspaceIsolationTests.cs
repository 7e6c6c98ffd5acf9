using System.Net;
using System.Net.Http.Json;
using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Annotations.Tests;

/// <summary>One evaluation in each of two workspaces; each must be invisible from the other.</summary>
public sealed class WorkspaceIsolationTests(AnnotationsApiFactory api) : IClassFixture<AnnotationsApiFactory>, IAsyncLifetime
{
    const string Default = TestTokens.Workspace;
    const string Globex = TestTokens.OtherWorkspace;

    readonly HttpClient defaultAdmin = api.CreateClient().As(Roles.Admin, Default);
    readonly HttpClient globexAdmin = api.CreateClient().As(Roles.Admin, Globex);
    readonly string name = $"isolated {Guid.NewGuid()}";
    Guid defaultEvaluation, defaultRow, globexEvaluation;

    public async Task InitializeAsync()
    {
        defaultEvaluation = await ImportAsync(defaultAdmin);
        globexEvaluation = await ImportAsync(globexAdmin);
        var page = await defaultAdmin.GetFromJsonAsync<RowPage>($"/api/evaluations/{defaultEvaluation}/rows", AnnotationsApiFactory.Json);
        defaultRow = page!.Items[0].Id;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>The same name in both workspaces: two rows resolved by a single reviewer each.</summary>
    async Task<Guid> ImportAsync(HttpClient client)
    {
        var response = await AnnotationsApiFactory.PostImportAsync(client,
            new ImportBody(name, ("fluency", "none")).Row("a", 4, 3).Row("b", 2, 5).ToString());
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await AnnotationsApiFactory.ReadAsync<Api.ImportResponse>(response)).EvaluationId;
    }

    static async Task<ProblemDetails> NotFoundAsync(Task<HttpResponseMessage> request)
    {
        var response = await request;
        response.StatusCode.Should().Be(HttpStatusCode.NotFound, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        return await AnnotationsApiFactory.ReadAsync<ProblemDetails>(response);
    }

    static async Task<List<ResolvedRow>> StreamAsync(HttpClient client, string url)
    {
        var response = await client.GetAsync(url);
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await AnnotationsApiFactory.ReadNdjsonAsync<ResolvedRow>(response);
    }

    [Fact]
    public async Task A_globex_caller_gets_404_for_a_default_evaluation_its_rows_and_resolution_history_as_for_unknown_ones()
    {
        var unknown = Guid.NewGuid();

        var evaluation = await NotFoundAsync(globexAdmin.GetAsync($"/api/evaluations/{defaultEvaluation}"));
        var rows = await NotFoundAsync(globexAdmin.GetAsync($"/api/evaluations/{defaultEvaluation}/rows"));
        var history = await NotFoundAsync(globexAdmin.GetAsync($"/api/rows/{defaultRow}/resolutions/fluency/history"));

        var unknownEvaluation = await NotFoundAsync(globexAdmin.GetAsync($"/api/evaluations/{unknown}"));
        var unknownHistory = await NotFoundAsync(globexAdmin.GetAsync($"/api/rows/{unknown}/resolutions/fluency/history"));
        evaluation.Title.Should().Be(unknownEvaluation.Title);
        evaluation.Detail.Should().Be(unknownEvaluation.Detail!.Replace(unknown.ToString(), defaultEvaluation.ToString()));
        rows.Title.Should().Be(unknownEvaluation.Title);
        history.Title.Should().Be(unknownHistory.Title);
        history.Detail.Should().Be(unknownHistory.Detail!.Replace(unknown.ToString(), defaultRow.ToString()));

        (await defaultAdmin.GetAsync($"/api/evaluations/{defaultEvaluation}")).StatusCode.Should().Be(HttpStatusCode.OK, "its own workspace sees it");
    }

    [Fact]
    public async Task A_globex_caller_cannot_annotate_resolve_or_complete_a_default_evaluation()
    {
        var before = await api.CountAllAsync();

        await NotFoundAsync(globexAdmin.PostAsJsonAsync($"/api/rows/{defaultRow}/annotations", new { metric = "fluency", reviewerId = "test-admin", score = 1 }));
        await NotFoundAsync(globexAdmin.PutAsJsonAsync($"/api/rows/{defaultRow}/resolutions/fluency", new { resolvedBy = "lead", score = 1 }));
        await NotFoundAsync(globexAdmin.PostAsync($"/api/evaluations/{defaultEvaluation}/complete", null));

        (await api.CountAllAsync()).Should().Be(before);
        (await api.CountAsync("resolution_history WHERE method = 'explicit'")).Should().Be(0);
    }

    [Fact]
    public async Task A_globex_caller_does_not_see_a_default_evaluation_in_the_list()
    {
        var globexList = await globexAdmin.GetFromJsonAsync<List<EvaluationView>>("/api/evaluations", AnnotationsApiFactory.Json);
        var globexByName = await globexAdmin.GetFromJsonAsync<List<EvaluationView>>($"/api/evaluations?name={Uri.EscapeDataString(name)}", AnnotationsApiFactory.Json);
        var defaultByName = await defaultAdmin.GetFromJsonAsync<List<EvaluationView>>($"/api/evaluations?name={Uri.EscapeDataString(name)}", AnnotationsApiFactory.Json);

        globexList!.Select(e => e.Id).Should().Contain(globexEvaluation).And.NotContain(defaultEvaluation);
        globexByName!.Select(e => e.Id).Should().Equal([globexEvaluation], "the same name in another workspace is another evaluation");
        defaultByName!.Select(e => e.Id).Should().Equal(defaultEvaluation);
    }

    [Fact]
    public async Task Resolved_rows_of_another_workspaces_evaluation_are_answered_as_for_an_unknown_one()
    {
        var unknown = Guid.NewGuid();

        var foreign = await NotFoundAsync(globexAdmin.GetAsync($"/api/metrics/fluency/resolved-rows?evaluationId={defaultEvaluation}"));
        var mixed = await NotFoundAsync(globexAdmin.GetAsync($"/api/metrics/fluency/resolved-rows?evaluationId={globexEvaluation}&evaluationId={defaultEvaluation}"));
        var missing = await NotFoundAsync(globexAdmin.GetAsync($"/api/metrics/fluency/resolved-rows?evaluationId={unknown}"));

        foreign.Title.Should().Be(missing.Title);
        foreign.Detail.Should().Be(missing.Detail!.Replace(unknown.ToString(), defaultEvaluation.ToString()));
        mixed.Detail.Should().Contain(defaultEvaluation.ToString()).And.NotContain(globexEvaluation.ToString());

        var globex = await api.CompletedEvaluationsInAsync(Globex);
        var all = await StreamAsync(globexAdmin, "/api/metrics/fluency/resolved-rows");
        all.Should().OnlyContain(r => globex.Contains(r.EvaluationId));
        all.Count(r => r.EvaluationId == globexEvaluation).Should().Be(2);

        var afterForeignRow = await globexAdmin.GetAsync($"/api/metrics/fluency/resolved-rows?after={defaultRow}");
        afterForeignRow.StatusCode.Should().Be(HttpStatusCode.BadRequest, "another workspace's row is no position to page from");
    }

    [Fact]
    public async Task A_service_token_sees_exactly_the_workspace_its_request_names()
    {
        foreach (var (workspace, own, other) in new[] { (Default, defaultEvaluation, globexEvaluation), (Globex, globexEvaluation, defaultEvaluation) })
        {
            var service = api.CreateClient().AsService(workspace);
            var inWorkspace = await api.CompletedEvaluationsInAsync(workspace);

            var eligible = await service.GetFromJsonAsync<List<EligibleEvaluation>>("/api/metrics/fluency/eligible-evaluations", AnnotationsApiFactory.Json);
            eligible!.Select(e => e.EvaluationId).Should().BeEquivalentTo(inWorkspace, $"every evaluation of {workspace}, and only those, is eligible");
            eligible!.Single(e => e.EvaluationId == own).ResolvedRowCount.Should().Be(2);

            var rows = await StreamAsync(service, "/api/metrics/fluency/resolved-rows");
            rows.Should().HaveCount(2 * inWorkspace.Count).And.OnlyContain(r => inWorkspace.Contains(r.EvaluationId));
            (await StreamAsync(service, $"/api/metrics/fluency/resolved-rows?evaluationId={own}")).Should().HaveCount(2);
            await NotFoundAsync(service.GetAsync($"/api/metrics/fluency/resolved-rows?evaluationId={other}"));
            await NotFoundAsync(service.GetAsync($"/api/evaluations/{other}"));
        }
    }

    [Fact]
    public async Task A_service_token_that_names_no_workspace_is_refused()
    {
        var service = api.CreateClient().AsService();
        service.DefaultRequestHeaders.Remove(Caller.WorkspaceHeader);

        var response = await service.GetAsync("/api/metrics/fluency/eligible-evaluations");

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_persons_workspace_is_their_tokens_whatever_header_they_send()
    {
        globexAdmin.DefaultRequestHeaders.Add(Caller.WorkspaceHeader, Default);

        await NotFoundAsync(globexAdmin.GetAsync($"/api/evaluations/{defaultEvaluation}"));
        var eligible = await globexAdmin.GetFromJsonAsync<List<EligibleEvaluation>>("/api/metrics/fluency/eligible-evaluations", AnnotationsApiFactory.Json);
        eligible!.Select(e => e.EvaluationId).Should().Contain(globexEvaluation).And.NotContain(defaultEvaluation);
    }

    [Fact]
    public async Task An_evaluation_is_stored_in_the_workspace_of_the_caller_who_created_it()
    {
        var created = await globexAdmin.PostAsJsonAsync("/api/evaluations", new { name = "manual in globex", metrics = new[] { new { metric = "fluency", resolution = "mean" } } });
        created.StatusCode.Should().Be(HttpStatusCode.Created);
        var evaluation = await AnnotationsApiFactory.ReadAsync<EvaluationView>(created);

        (await api.CountAsync($"evaluations WHERE id = '{evaluation.Id}' AND workspace = 'globex'")).Should().Be(1);
        (await api.CountAsync($"evaluations WHERE id = '{globexEvaluation}' AND workspace = 'globex'")).Should().Be(1);
        (await api.CountAsync($"evaluations WHERE id = '{defaultEvaluation}' AND workspace = 'default'")).Should().Be(1);
    }
}
