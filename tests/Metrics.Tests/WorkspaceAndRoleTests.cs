using System.Net;
using System.Net.Http.Json;
using MetricAlignment.Metrics.Api;
using MetricAlignment.Metrics.Domain;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Metrics.Tests;

/// <summary>Who may do what to which workspace's metrics over HTTP.</summary>
public sealed class WorkspaceAndRoleTests(MetricsServiceFixture service) : IClassFixture<MetricsServiceFixture>
{
    static readonly System.Text.Json.JsonSerializerOptions Json = MetricsServiceFixture.Json;

    static object NewVersion => new { systemPrompt = "s", userPromptTemplate = "{{output}}", author = "a", changeNote = "tuned" };

    static async Task<ProblemDetails> ShouldBeProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        response.StatusCode.Should().Be(status);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
        var problem = (await response.Content.ReadFromJsonAsync<ProblemDetails>(Json))!;
        problem.Status.Should().Be((int)status);
        return problem;
    }

    [Theory]
    [InlineData("GET", "/api/metrics")]
    [InlineData("GET", "/api/metrics/helpfulness")]
    [InlineData("POST", "/api/metrics")]
    [InlineData("POST", "/api/metrics/helpfulness/fork")]
    public async Task An_anonymous_request_is_a_401_problem(string method, string path)
    {
        var anonymous = service.AnonymousClient();

        var response = await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = method == "POST" ? JsonContent.Create(new { name = "x", author = "a" }) : null,
        });

        await ShouldBeProblem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_viewer_can_list_metrics_but_cannot_create_one()
    {
        var viewer = service.ClientAs(Roles.Viewer);
        var name = $"Viewer made {Guid.NewGuid():N}";

        var list = await viewer.GetAsync("/api/metrics");
        var create = await viewer.PostAsJsonAsync("/api/metrics", new
        {
            name, type = "quantitative", scaleMin = 1, scaleMax = 5, scope = "turn",
            systemPrompt = "s", userPromptTemplate = "{{output}}", author = "a",
        }, Json);

        list.StatusCode.Should().Be(HttpStatusCode.OK);
        (await list.Content.ReadFromJsonAsync<List<MetricSummary>>(Json))!.Should().Contain(m => m.Key == "helpfulness");
        await ShouldBeProblem(create, HttpStatusCode.Forbidden);
        var customs = await service.Client.GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=custom", Json);
        customs!.Should().NotContain(m => m.Name == name);
    }

    [Fact]
    public async Task A_viewer_cannot_publish_a_version()
    {
        var metric = await service.CreateCustomMetricAsync();
        var viewer = service.ClientAs(Roles.Viewer);

        var response = await viewer.PostAsJsonAsync($"/api/metrics/{metric.Key}/versions", NewVersion, Json);

        await ShouldBeProblem(response, HttpStatusCode.Forbidden);
        (await service.GetMetricAsync(metric.Key, viewer)).CurrentVersion.Should().Be(1);
    }

    [Fact]
    public async Task An_annotator_cannot_fork_a_metric()
    {
        var annotator = service.ClientAs(Roles.Annotator);

        var response = await annotator.PostAsJsonAsync("/api/metrics/verbosity/fork", new { name = "Annotator fork", author = "a" }, Json);

        await ShouldBeProblem(response, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_metric_editor_can_create_publish_and_fork_in_their_workspace()
    {
        var editor = service.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);

        var metric = await service.CreateCustomMetricAsync(client: editor);
        var version = await editor.PostAsJsonAsync($"/api/metrics/{metric.Id}/versions", NewVersion, Json);
        var forkOfOwn = await editor.PostAsJsonAsync($"/api/metrics/{metric.Key}/fork", new { name = $"{metric.Name} copy", author = "e" }, Json);
        var forkOfBuiltIn = await editor.PostAsJsonAsync("/api/metrics/goal-completion/fork", new { name = $"Goal {Guid.NewGuid():N}", author = "e" }, Json);

        metric.Workspace.Should().Be(TestTokens.OtherWorkspace);
        version.StatusCode.Should().Be(HttpStatusCode.Created);
        forkOfOwn.StatusCode.Should().Be(HttpStatusCode.Created);
        (await forkOfOwn.Content.ReadFromJsonAsync<MetricDetail>(Json))!.ForkedFrom!.MetricId.Should().Be(metric.Id);
        forkOfBuiltIn.StatusCode.Should().Be(HttpStatusCode.Created);
        (await forkOfBuiltIn.Content.ReadFromJsonAsync<MetricDetail>(Json))!.Workspace.Should().Be(TestTokens.OtherWorkspace);
    }

    [Fact]
    public async Task Another_workspaces_custom_metric_is_404_by_id_and_by_key_exactly_like_an_unknown_one()
    {
        var metric = await service.CreateCustomMetricAsync();
        var globex = service.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);

        foreach (var path in new[]
                 {
                     $"/api/metrics/{metric.Id}", $"/api/metrics/{metric.Key}", $"/api/metrics/{metric.Id}/versions",
                     $"/api/metrics/{metric.Key}/versions/1",
                 })
        {
            var problem = await ShouldBeProblem(await globex.GetAsync(path), HttpStatusCode.NotFound);
            problem.Title.Should().Be("Metric not found", path);
        }

        var unknown = (await (await globex.GetAsync("/api/metrics/no-such-metric")).Content.ReadFromJsonAsync<ProblemDetails>(Json))!;
        var foreign = (await (await globex.GetAsync($"/api/metrics/{metric.Key}")).Content.ReadFromJsonAsync<ProblemDetails>(Json))!;
        foreign.Detail.Should().Be(unknown.Detail!.Replace("no-such-metric", metric.Key));
    }

    [Fact]
    public async Task Another_workspaces_custom_metric_is_not_listed()
    {
        var metric = await service.CreateCustomMetricAsync();
        var globex = service.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);
        var own = await service.CreateCustomMetricAsync(client: globex);

        var listed = await globex.GetFromJsonAsync<List<MetricSummary>>("/api/metrics", Json);
        var customs = await globex.GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=custom", Json);

        listed!.Should().NotContain(m => m.Id == metric.Id || m.Key == metric.Key).And.Contain(m => m.Id == own.Id);
        customs!.Should().Contain(m => m.Id == own.Id).And.OnlyContain(m => m.Workspace == TestTokens.OtherWorkspace);
    }

    [Fact]
    public async Task Another_workspaces_custom_metric_cannot_be_versioned_or_forked_and_answers_404()
    {
        var metric = await service.CreateCustomMetricAsync();
        var globexAdmin = service.ClientAs(Roles.Admin, TestTokens.OtherWorkspace);

        var version = await globexAdmin.PostAsJsonAsync($"/api/metrics/{metric.Id}/versions", NewVersion, Json);
        var fork = await globexAdmin.PostAsJsonAsync($"/api/metrics/{metric.Key}/fork", new { name = "Stolen", author = "x" }, Json);

        await ShouldBeProblem(version, HttpStatusCode.NotFound);
        await ShouldBeProblem(fork, HttpStatusCode.NotFound);
        (await service.GetMetricAsync(metric.Key)).CurrentVersion.Should().Be(1);
        (await globexAdmin.GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=custom", Json))!.Should().NotContain(m => m.Name == "Stolen");
    }

    [Fact]
    public async Task The_built_ins_are_listed_in_every_workspace()
    {
        var inDefault = await service.ClientAs(Roles.Viewer).GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=built_in", Json);
        var inGlobex = await service.ClientAs(Roles.Viewer, TestTokens.OtherWorkspace).GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=built_in", Json);

        inDefault!.Should().HaveCount(11).And.OnlyContain(m => m.Workspace == null);
        inGlobex!.Select(m => m.Id).Should().Equal(inDefault.Select(m => m.Id));
    }

    [Fact]
    public async Task The_same_custom_key_can_exist_in_two_workspaces()
    {
        var key = $"tone-{Guid.NewGuid():N}"[..20];
        var globex = service.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);

        var mine = await service.CreateCustomMetricAsync(key: key);
        var theirs = await service.CreateCustomMetricAsync(client: globex, key: key);

        theirs.Id.Should().NotBe(mine.Id);
        (await service.GetMetricAsync(key)).Id.Should().Be(mine.Id);
        (await service.GetMetricAsync(key, globex)).Id.Should().Be(theirs.Id);
    }

    [Fact]
    public async Task A_custom_metric_cannot_take_a_built_in_key_in_any_workspace()
    {
        var globex = service.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);

        var response = await globex.PostAsJsonAsync("/api/metrics", new
        {
            key = "fluency", name = "My fluency", type = "quantitative", scaleMin = 0, scaleMax = 1, scope = "turn",
            systemPrompt = "s", userPromptTemplate = "{{output}}", author = "a",
        }, Json);

        await ShouldBeProblem(response, HttpStatusCode.Conflict);
        (await service.GetMetricAsync("fluency", globex)).Kind.Should().Be(MetricKind.BuiltIn);
    }

    [Fact]
    public async Task A_platform_service_reads_the_workspace_named_in_its_request()
    {
        var metric = await service.CreateCustomMetricAsync(client: service.ClientAs(Roles.Admin, TestTokens.OtherWorkspace));
        var asService = service.AnonymousClient().AsService(TestTokens.OtherWorkspace);
        var asServiceForDefault = service.AnonymousClient().AsService(TestTokens.Workspace);

        (await service.GetMetricAsync(metric.Key, asService)).Id.Should().Be(metric.Id);
        (await asServiceForDefault.GetAsync($"/api/metrics/{metric.Id}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_openapi_document_is_anonymous_and_names_401_and_403_answers()
    {
        var document = await service.AnonymousClient().GetStringAsync("/openapi/v1.json");

        document.Should().Contain("\"401\"").And.Contain("\"403\"");
    }
}
