using System.Net;
using Dapper;
using Npgsql;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Annotations.Tests;

public sealed class ResolvedRowsStreamTests(AnnotationsApiFactory api) : IClassFixture<AnnotationsApiFactory>, IAsyncLifetime
{
    readonly HttpClient client = api.CreateClient().As();
    readonly List<Guid> evaluations = [];

    public async Task InitializeAsync()
    {
        foreach (var name in new[] { "stream one", "stream two" })
        {
            var body = new ImportBody(name, ("fluency", "none"));
            for (var i = 0; i < 25; i++)
            {
                // Every fifth row has reviewers who disagree: unresolved, so not streamed.
                if (i % 5 == 4) body.Row($"{name}-{i}", 3, 1, 5);
                else body.Row($"{name}-{i}", 3, 1 + i % 5);
            }
            var response = await AnnotationsApiFactory.PostImportAsync(client, body.ToString());
            response.StatusCode.Should().Be(HttpStatusCode.Created);
            evaluations.Add((await AnnotationsApiFactory.ReadAsync<Api.ImportResponse>(response)).EvaluationId);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    string Query(string? after = null, int? limit = null) =>
        "/api/metrics/fluency/resolved-rows?" + string.Join("&", evaluations.Select(e => $"evaluationId={e}"))
        + (after is null ? "" : $"&after={after}") + (limit is null ? "" : $"&limit={limit}");

    async Task<List<ResolvedRow>> StreamAsync(string url)
    {
        var response = await client.GetAsync(url);
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await AnnotationsApiFactory.ReadNdjsonAsync<ResolvedRow>(response);
    }

    [Fact]
    public async Task Resolved_rows_stream_in_evaluation_then_row_order_and_only_resolved_ones()
    {
        var rows = await StreamAsync(Query());

        rows.Should().HaveCount(40);
        var order = evaluations.Order().ToList();
        rows.Select(r => r.EvaluationId).Should().BeInAscendingOrder(Comparer<Guid>.Create((a, b) => order.IndexOf(a).CompareTo(order.IndexOf(b))));
        rows.Where(r => r.EvaluationId == order[0]).Select(r => int.Parse(r.ExternalId!.Split('-')[1])).Should().BeInAscendingOrder();
        rows.Should().OnlyContain(r => r.ResolutionMethod == "single_reviewer" && r.Reviewers.Count == 1 && r.JudgeScore == 3);
        rows[0].Input.Messages.Should().ContainSingle().Which.Role.Should().Be("user");

        (await StreamAsync(Query())).Select(r => r.RowId).Should().Equal(rows.Select(r => r.RowId), "the order is stable");
    }

    [Fact]
    public async Task The_response_starts_before_a_slow_query_returns_its_first_row_so_callers_header_timeouts_do_not_fire()
    {
        // A large selection that PostgreSQL sorts before its first row is modelled by a lock the query has to wait for.
        await using var blocker = new NpgsqlConnection(api.DatabaseConnectionString);
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await blocker.ExecuteAsync("LOCK TABLE judge_scores IN ACCESS EXCLUSIVE MODE", transaction: transaction);

        using var response = await client.GetAsync(Query(), HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(30));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var reading = AnnotationsApiFactory.ReadNdjsonAsync<ResolvedRow>(response);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        reading.IsCompleted.Should().BeFalse("the query is still waiting for the lock");

        await transaction.RollbackAsync();
        (await reading.WaitAsync(TimeSpan.FromSeconds(30))).Should().HaveCount(40);
    }

    [Fact]
    public async Task Each_line_has_the_contracts_json_shape_with_the_stored_json_columns_passed_through()
    {
        var response = await client.GetAsync(Query(limit: 3));
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        lines.Should().HaveCount(3, "every row, with its JSON columns, stays on one line");
        var line = System.Text.Json.Nodes.JsonNode.Parse(lines[0])!.AsObject();
        var row = System.Text.Json.JsonSerializer.Deserialize<ResolvedRow>(lines[0], System.Text.Json.JsonSerializerOptions.Web)!;
        var contract = System.Text.Json.JsonSerializer.SerializeToNode(row, System.Text.Json.JsonSerializerOptions.Web)!.AsObject();
        line.Select(p => p.Key).Should().Equal(contract.Select(p => p.Key), "the hand-written line follows the contract's property order");
        line["input"]!.AsObject().Select(p => p.Key).Should().Equal("text", "messages");
        row.Tags.Should().Equal(new Dictionary<string, string> { ["system"] = "test" });
        row.Input.Text.Should().BeNull();
        row.Input.Messages.Should().ContainSingle().Which.Content.Should().StartWith("Summarise article stream ");
        row.Reviewers.Should().ContainSingle().Which.AnnotatedAt.Should().BeAfter(DateTimeOffset.UnixEpoch);
        row.MetricKey.Should().Be("fluency");
    }

    [Fact]
    public async Task Paging_with_after_and_limit_returns_the_same_rows_as_one_stream()
    {
        var all = await StreamAsync(Query());

        var paged = new List<ResolvedRow>();
        string? after = null;
        while (true)
        {
            var page = await StreamAsync(Query(after, 7));
            page.Count.Should().BeLessThanOrEqualTo(7);
            paged.AddRange(page);
            if (page.Count < 7) break;
            after = page[^1].RowId.ToString();
        }

        paged.Select(r => r.RowId).Should().Equal(all.Select(r => r.RowId));
    }

    [Fact]
    public async Task Unknown_evaluations_and_metrics_are_404_problems()
    {
        var unknown = Guid.NewGuid();
        var response = await client.GetAsync($"/api/metrics/fluency/resolved-rows?evaluationId={evaluations[0]}&evaluationId={unknown}");
        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await AnnotationsApiFactory.ReadAsync<ProblemDetails>(response)).Detail.Should().Contain(unknown.ToString());

        (await client.GetAsync("/api/metrics/humour/resolved-rows")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await client.GetAsync("/api/metrics/humour/eligible-evaluations")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
