using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using MetricAlignment.Alignment.Api;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Api;

/// <summary>
/// GET /api/alignment-runs/{id} and the history serve JSON cached per (run id, saga version). These tests hold the cache to
/// its promise: never older than the database, and never across workspaces.
/// </summary>
[Collection(AlignmentAppCollection.Name)]
public sealed class Cached_runs_are_never_stale(AlignmentAppFixture app)
{
    NpgsqlDataSource Database => app.Factory.Services.GetRequiredService<NpgsqlDataSource>();

    async Task<(string State, int Version)> RowAsync(Guid runId)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return await connection.QuerySingleAsync<(string, int)>(
            "SELECT current_state, version FROM alignment_runs WHERE correlation_id = @runId", new { runId });
    }

    static int VersionOf(HttpResponseMessage response)
    {
        var tag = response.Headers.ETag?.Tag ?? throw new InvalidOperationException("The run came without an ETag.");
        return int.Parse(tag.Trim('"').Split('-')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    static async IAsyncEnumerable<MetricAlignment.Contracts.ResolvedRow> AfterGate(Task gate, Guid metricId, Guid evaluationId,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken);
        await foreach (var row in Fakes.FakeAnnotationsClient.SixRows(metricId, evaluationId, cancellationToken)) yield return row;
    }

    [Fact]
    public async Task Every_read_while_a_run_moves_from_start_through_its_phases_to_aligned_is_at_least_as_new_as_the_database()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        // The rows arrive only when the test says so, so that the run is certainly read while running and cached there.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        app.Annotations.Rows[metric.Id] = ct => AfterGate(gate.Task, metric.Id, evaluation.EvaluationId, ct);
        var (started, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        started.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        var runId = Guid.Parse((string)body["id"]!);

        var statuses = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            // The row read first: the response that follows may be newer, never older.
            var (state, version) = await RowAsync(runId);
            using var response = await app.Client.GetAsync($"/api/alignment-runs/{runId}");
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            var served = VersionOf(response);
            var status = (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["status"]!;
            served.Should().BeGreaterThanOrEqualTo(version, "a cached run must not be older than the database row read before the request");
            if (served == version) status.Should().Be(AlignmentRunResponse.StatusOf(state));
            if (statuses.Count == 0 || statuses[^1] != status) statuses.Add(status);
            if (status == "running") gate.TrySetResult();
            if (status == "aligned" || DateTime.UtcNow > deadline) break;
            await Task.Delay(10);
        }

        statuses.Should().Contain("running").And.EndWith("aligned");
    }

    [Fact]
    public async Task A_change_written_by_another_process_shows_on_the_very_next_read_of_the_run_and_of_the_history()
    {
        var (metric, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");
        // Read twice, so that both the run and its history summary are cached.
        for (var i = 0; i < 2; i++)
        {
            ((string?)(await app.GetRunAsync(runId))["status"]).Should().Be("aligned");
            var page = JsonNode.Parse(await app.Client.GetStringAsync($"/api/metrics/{metric.Id}/alignment-runs"))!.AsArray();
            ((string?)page.Single(r => (string?)r!["id"] == runId.ToString())!["status"]).Should().Be("aligned");
        }

        // What a saga in another instance would commit: a new version with a new state (no message reaches this process).
        await using (var connection = await Database.OpenConnectionAsync())
            (await connection.ExecuteAsync("""
                UPDATE alignment_runs SET current_state = 'Discarded', version = version + 1,
                    document = jsonb_set(document, '{currentState}', '"Discarded"')
                WHERE correlation_id = @runId
                """, new { runId })).Should().Be(1);

        ((string?)(await app.GetRunAsync(runId))["status"]).Should().Be("discarded");
        var history = JsonNode.Parse(await app.Client.GetStringAsync($"/api/metrics/{metric.Id}/alignment-runs"))!.AsArray();
        ((string?)history.Single(r => (string?)r!["id"] == runId.ToString())!["status"]).Should().Be("discarded");
    }

    [Fact]
    public async Task A_decision_through_the_api_is_visible_as_soon_as_the_saga_has_stored_it()
    {
        var (_, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");
        ((string?)(await app.GetRunAsync(runId))["status"]).Should().Be("aligned");

        (await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/discard", new { })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await RowAsync(runId)).State != "Discarded" && DateTime.UtcNow < deadline) await Task.Delay(20);

        // No polling here: the first read after the commit must show it.
        ((string?)(await app.GetRunAsync(runId))["status"]).Should().Be("discarded");
    }

    [Fact]
    public async Task An_unchanged_run_answers_304_to_its_etag_and_a_changed_one_answers_200_with_the_new_state()
    {
        var (_, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");
        using var first = await app.Client.GetAsync($"/api/alignment-runs/{runId}");
        var etag = first.Headers.ETag!;

        using var again = new HttpRequestMessage(HttpMethod.Get, $"/api/alignment-runs/{runId}") { Headers = { IfNoneMatch = { etag } } };
        (await app.Client.SendAsync(again)).StatusCode.Should().Be(HttpStatusCode.NotModified);

        await using (var connection = await Database.OpenConnectionAsync())
            await connection.ExecuteAsync("UPDATE alignment_runs SET version = version + 1 WHERE correlation_id = @runId", new { runId });
        using var afterChange = new HttpRequestMessage(HttpMethod.Get, $"/api/alignment-runs/{runId}") { Headers = { IfNoneMatch = { etag } } };
        using var changed = await app.Client.SendAsync(afterChange);
        changed.StatusCode.Should().Be(HttpStatusCode.OK);
        changed.Headers.ETag.Should().NotBe(etag);
    }
}

[Collection(AlignmentAppCollection.Name)]
public sealed class Cached_runs_stay_in_their_workspace(AlignmentAppFixture app)
{
    [Fact]
    public async Task A_run_cached_for_its_workspace_is_still_404_for_another_workspace_even_with_its_etag()
    {
        var (metric, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");
        using var ours = await app.Client.GetAsync($"/api/alignment-runs/{runId}");
        ours.StatusCode.Should().Be(HttpStatusCode.OK);
        (await app.Client.GetStringAsync($"/api/metrics/{metric.Id}/alignment-runs")).Should().Contain(runId.ToString());
        using var globex = app.ClientAs(Roles.Admin, TestTokens.OtherWorkspace);

        using var get = await globex.GetAsync($"/api/alignment-runs/{runId}");
        using var conditional = await globex.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/api/alignment-runs/{runId}")
        {
            Headers = { IfNoneMatch = { ours.Headers.ETag! } },
        });
        using var theirHistory = await globex.GetAsync($"/api/metrics/{metric.Id}/alignment-runs");

        get.StatusCode.Should().Be(HttpStatusCode.NotFound);
        conditional.StatusCode.Should().Be(HttpStatusCode.NotFound, "a matching ETag must not confirm that another workspace's run exists");
        theirHistory.StatusCode.Should().Be(HttpStatusCode.NotFound, "another workspace's metric has no history to show");
        (await theirHistory.Content.ReadAsStringAsync()).Should().NotContain(runId.ToString());
    }

    [Fact]
    public async Task A_platform_service_reads_the_cached_run_only_in_the_workspace_its_request_names()
    {
        var (_, runId) = await app.StartAlignableRunAsync();
        await app.WaitForStatusAsync(runId, "aligned");
        (await app.Client.GetAsync($"/api/alignment-runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.OK);

        using var inDefault = app.Factory.CreateClient().AsService(TestTokens.Workspace);
        using var inGlobex = app.Factory.CreateClient().AsService(TestTokens.OtherWorkspace);

        (await inDefault.GetAsync($"/api/alignment-runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await inGlobex.GetAsync($"/api/alignment-runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
