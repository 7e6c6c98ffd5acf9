using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Alignment.Tests.Api;

[Collection(AlignmentAppCollection.Name)]
public sealed class Who_may_call_the_alignment_api(AlignmentAppFixture app)
{
    static readonly Guid SomeId = Guid.Parse("0b7f6a52-3c1e-4f0e-9d2a-7e5b8c4d1f60");

    public static TheoryData<string, string> Endpoints => new()
    {
        { "POST", "/api/alignment-runs" },
        { "GET", $"/api/alignment-runs/{SomeId}" },
        { "POST", $"/api/alignment-runs/{SomeId}/cancel" },
        { "POST", $"/api/alignment-runs/{SomeId}/accept" },
        { "POST", $"/api/alignment-runs/{SomeId}/discard" },
        { "POST", $"/api/alignment-runs/{SomeId}/retry" },
        { "GET", $"/api/metrics/{SomeId}/alignment-runs" },
        { "GET", $"/api/metrics/{SomeId}/eligible-evaluations" },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task An_anonymous_caller_gets_a_401_problem(string method, string path)
    {
        using var anonymous = app.AnonymousClient();

        using var response = await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = method == "POST" ? JsonContent.Create(new { }) : null,
        });

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task A_viewer_can_read_a_run_and_its_history_but_cannot_start_cancel_retry_accept_or_discard()
    {
        var (metric, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        using var viewer = app.ClientAs(Roles.Viewer);

        (await viewer.GetAsync($"/api/alignment-runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.OK);
        var history = JsonNode.Parse(await viewer.GetStringAsync($"/api/metrics/{metric.Id}/alignment-runs"))!.AsArray();
        history.Select(r => (string?)r!["id"]).Should().Contain(runId.ToString());
        (await viewer.GetAsync($"/api/metrics/{metric.Id}/eligible-evaluations")).StatusCode.Should().Be(HttpStatusCode.OK);

        (await viewer.PostAsJsonAsync("/api/alignment-runs", new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } }))
            .StatusCode.Should().Be(HttpStatusCode.Forbidden);
        foreach (var action in new[] { "cancel", "retry", "accept", "discard" })
            (await viewer.PostAsJsonAsync($"/api/alignment-runs/{runId}/{action}", new { })).StatusCode
                .Should().Be(HttpStatusCode.Forbidden, $"a viewer may not {action} a run");
        ((string?)(await app.GetRunAsync(runId))["status"]).Should().Be("aligned");
    }

    [Fact]
    public async Task An_annotator_cannot_start_a_run()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        using var annotator = app.ClientAs(Roles.Annotator);

        var response = await annotator.PostAsJsonAsync("/api/alignment-runs", new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task An_admin_can_start_a_run()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        using var admin = app.ClientAs(Roles.Admin);

        var response = await admin.PostAsJsonAsync("/api/alignment-runs", new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
    }
}

[Collection(AlignmentAppCollection.Name)]
public sealed class Runs_stay_in_their_workspace(AlignmentAppFixture app)
{
    [Fact]
    public async Task Another_workspaces_editor_gets_404_for_a_run_like_an_unknown_one_and_changes_nothing()
    {
        var (_, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");
        using var globex = app.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);
        using var unknown = await globex.GetAsync($"/api/alignment-runs/{Guid.NewGuid()}");
        var unknownTitle = (string?)JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!["title"];

        using var get = await globex.GetAsync($"/api/alignment-runs/{runId}");
        get.StatusCode.Should().Be(HttpStatusCode.NotFound);
        ((string?)JsonNode.Parse(await get.Content.ReadAsStringAsync())!["title"]).Should().Be(unknownTitle);
        foreach (var action in new[] { "accept", "cancel", "discard", "retry" })
            (await globex.PostAsJsonAsync($"/api/alignment-runs/{runId}/{action}", new { })).StatusCode
                .Should().Be(HttpStatusCode.NotFound, $"{action} of another workspace's run answers as for an unknown run");

        ((string?)(await app.GetRunAsync(runId))["status"]).Should().Be("aligned");
    }

    [Fact]
    public async Task Another_workspaces_editor_does_not_see_the_run_in_the_metrics_history()
    {
        var (metric, runId) = await app.StartAlignableRunAsync();
        using var globex = app.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);

        using var theirs = await globex.GetAsync($"/api/metrics/{metric.Id}/alignment-runs");
        var ours = JsonNode.Parse(await app.Client.GetStringAsync($"/api/metrics/{metric.Id}/alignment-runs"))!.AsArray();

        theirs.StatusCode.Should().Be(HttpStatusCode.NotFound, "another workspace's metric is answered as an unknown one");
        (await theirs.Content.ReadAsStringAsync()).Should().NotContain(runId.ToString());
        ours.Select(r => (string?)r!["id"]).Should().Contain(runId.ToString());
        using var paged = await globex.GetAsync($"/api/metrics/{metric.Id}/alignment-runs?before={runId}");
        paged.StatusCode.Should().Be(HttpStatusCode.BadRequest, "another workspace's run is no cursor, as an unknown run is none");
    }

    [Fact]
    public async Task Starting_with_another_workspaces_evaluation_is_refused_naming_it_like_an_unknown_one()
    {
        var metric = app.Metrics.Add();
        var ours = app.Annotations.AddEvaluation(metric.Id);
        var theirs = app.Annotations.AddEvaluation(metric.Id, workspace: TestTokens.OtherWorkspace);

        var (response, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { ours.EvaluationId, theirs.EvaluationId } });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var error = body["errors"]!["evaluationIds"]!.AsArray().Should().ContainSingle().Subject!.GetValue<string>();
        error.Should().Contain(theirs.EvaluationId.ToString()).And.Contain("does not exist");
    }

    [Fact]
    public async Task Starting_on_another_workspaces_custom_metric_is_404()
    {
        var theirs = app.Metrics.Add("custom", workspace: TestTokens.OtherWorkspace);
        var evaluation = app.Annotations.AddEvaluation(theirs.Id, workspace: TestTokens.OtherWorkspace);

        var (response, _) = await app.StartAsync(new { metricId = theirs.Id, evaluationIds = new[] { evaluation.EvaluationId } });

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Another_workspaces_metric_has_no_eligible_evaluations_to_show_404()
    {
        var theirs = app.Metrics.Add(workspace: TestTokens.OtherWorkspace);
        app.Annotations.AddEvaluation(theirs.Id, workspace: TestTokens.OtherWorkspace);

        (await app.Client.GetAsync($"/api/metrics/{theirs.Id}/eligible-evaluations")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_run_started_in_a_workspace_is_worked_on_in_it_and_readable_only_there()
    {
        var metric = app.Metrics.Add(workspace: TestTokens.OtherWorkspace);
        var evaluation = app.Annotations.AddEvaluation(metric.Id, workspace: TestTokens.OtherWorkspace);
        app.Annotations.Rows[metric.Id] = ct => Fakes.FakeAnnotationsClient.SixRows(metric.Id, evaluation.EvaluationId, ct);
        using var globex = app.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);

        var response = await globex.PostAsJsonAsync("/api/alignment-runs", new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var started = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var runId = (string)started["id"]!;
        ((string?)started["workspace"]).Should().Be(TestTokens.OtherWorkspace);

        JsonNode run;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        do
        {
            await Task.Delay(100);
            run = JsonNode.Parse(await globex.GetStringAsync($"/api/alignment-runs/{runId}"))!;
        } while ((string?)run["status"] != "aligned" && DateTime.UtcNow < deadline);

        ((string?)run["status"]).Should().Be("aligned", run.ToJsonString());
        app.Annotations.StreamCalls.Where(c => c.MetricId == metric.Id).Should().NotBeEmpty()
            .And.OnlyContain(c => c.Workspace == TestTokens.OtherWorkspace, "the worker reads the rows in the run's workspace");
        app.Metrics.Calls.Where(c => c.MetricId == metric.Id).Should().OnlyContain(c => c.Workspace == TestTokens.OtherWorkspace);
        (await app.Client.GetAsync($"/api/alignment-runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_platform_service_reads_a_run_in_the_workspace_its_request_names()
    {
        var (_, runId) = await app.StartAlignableRunAsync();
        using var inWorkspace = app.AnonymousClient().AsService(TestTokens.Workspace);
        using var elsewhere = app.AnonymousClient().AsService(TestTokens.OtherWorkspace);

        (await inWorkspace.GetAsync($"/api/alignment-runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await elsewhere.GetAsync($"/api/alignment-runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
