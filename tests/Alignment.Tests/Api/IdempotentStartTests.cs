using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using MetricAlignment.Alignment.Api;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Api;

[Collection(AlignmentAppCollection.Name)]
public sealed class Starting_a_run_with_an_idempotency_key(AlignmentAppFixture app)
{
    NpgsqlDataSource DataSource => app.Factory.Services.GetRequiredService<NpgsqlDataSource>();

    static string NewKey() => $"key-{Guid.NewGuid()}";

    (Guid MetricId, Guid EvaluationId) AlignableMetric(string workspace = TestTokens.Workspace)
    {
        var metric = app.Metrics.Add(workspace: workspace);
        var evaluation = app.Annotations.AddEvaluation(metric.Id, workspace: workspace);
        return (metric.Id, evaluation.EvaluationId);
    }

    static async Task<(HttpResponseMessage Response, JsonNode Body)> PostAsync(HttpClient client, string json, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/alignment-runs")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        if (key is not null) request.Headers.TryAddWithoutValidation(IdempotencyKey.HeaderName, key);
        var response = await client.SendAsync(request);
        return (response, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    Task<(HttpResponseMessage Response, JsonNode Body)> PostAsync(string json, string? key) => PostAsync(app.Client, json, key);

    static string Body(Guid metricId, Guid evaluationId, double threshold = 2) =>
        new JsonObject { ["metricId"] = metricId, ["evaluationIds"] = new JsonArray(evaluationId), ["deltaThreshold"] = threshold }.ToJsonString();

    async Task<long> RunsOfMetricAsync(Guid metricId)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM alignment_runs WHERE metric_id = @metricId", new { metricId });
    }

    Task<(IdempotencyKeys.Claim? Claim, IdempotencyKeys.Entry Entry)> ClaimAsync(string key, Guid? runId = null) =>
        IdempotencyKeys.ClaimAsync(DataSource, TestTokens.Workspace, key, runId ?? Guid.NewGuid(), TimeSpan.FromMinutes(1), TimeSpan.FromHours(1),
            CancellationToken.None);

    sealed record KeyRow(string? RequestHash, Guid RunId, DateTime? LeaseUntil, DateTime? StartedAt);

    async Task<KeyRow?> KeyAsync(string key)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        return await connection.QuerySingleOrDefaultAsync<KeyRow>("""
            SELECT request_hash AS RequestHash, run_id AS RunId, lease_until AS LeaseUntil, started_at AS StartedAt
            FROM idempotency_keys WHERE workspace = @workspace AND key = @key
            """, new { workspace = TestTokens.Workspace, key });
    }

    [Fact]
    public async Task A_repeat_of_the_same_request_answers_the_first_run_and_starts_no_other()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();

        var (first, firstBody) = await PostAsync(Body(metricId, evaluationId), key);
        var (second, secondBody) = await PostAsync(Body(metricId, evaluationId), key);

        first.StatusCode.Should().Be(HttpStatusCode.Accepted, firstBody.ToJsonString());
        second.StatusCode.Should().Be(HttpStatusCode.Accepted, secondBody.ToJsonString());
        ((string?)secondBody["id"]).Should().Be((string?)firstBody["id"]);
        second.Headers.Location.Should().Be(first.Headers.Location);
        second.Headers.GetValues(IdempotencyKey.ReplayedHeaderName).Should().Equal("true");
        first.Headers.Contains(IdempotencyKey.ReplayedHeaderName).Should().BeFalse();
        (await RunsOfMetricAsync(metricId)).Should().Be(1);
        var run = await app.WaitForStatusAsync(Guid.Parse((string)firstBody["id"]!), "aligned");
        run["attempts"]!.AsArray().Should().ContainSingle("the repeat queued no second attempt");
    }

    [Fact]
    public async Task The_same_request_written_differently_is_still_the_same_request()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();

        var (first, firstBody) = await PostAsync(Body(metricId, evaluationId), key);
        var reordered = $$"""{ "DeltaThreshold": 2.0, "evaluationIds": [ "{{evaluationId}}" ], "metricId": "{{metricId}}" }""";
        // The draft's sf-string form of the same key.
        var (second, secondBody) = await PostAsync(reordered, $"\"{key}\"");

        first.StatusCode.Should().Be(HttpStatusCode.Accepted);
        second.StatusCode.Should().Be(HttpStatusCode.Accepted, secondBody.ToJsonString());
        ((string?)secondBody["id"]).Should().Be((string?)firstBody["id"]);
        (await RunsOfMetricAsync(metricId)).Should().Be(1);
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_422_naming_the_conflict()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();
        var (first, firstBody) = await PostAsync(Body(metricId, evaluationId, threshold: 2), key);

        var (second, body) = await PostAsync(Body(metricId, evaluationId, threshold: 1), key);

        first.StatusCode.Should().Be(HttpStatusCode.Accepted);
        second.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity, body.ToJsonString());
        second.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        ((string?)body["title"]).Should().Be("Idempotency-Key reused for another request");
        ((string?)body["idempotencyKey"]).Should().Be(key);
        ((string?)body["runId"]).Should().Be((string?)firstBody["id"]);
        (await RunsOfMetricAsync(metricId)).Should().Be(1);
    }

    [Fact]
    public async Task A_key_whose_first_request_is_still_in_progress_is_409_with_retry_after()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();
        // What a request in progress holds, on any instance: a live lease on the key's row.
        await using (var inProgress = (await ClaimAsync(key)).Claim)
        {
            inProgress.Should().NotBeNull();

            var (response, body) = await PostAsync(Body(metricId, evaluationId), key);

            response.StatusCode.Should().Be(HttpStatusCode.Conflict, body.ToJsonString());
            response.Headers.RetryAfter.Should().NotBeNull();
            ((string?)body["title"]).Should().Be("A request with this Idempotency-Key is in progress");
            (await RunsOfMetricAsync(metricId)).Should().Be(0);
        }

        var (retried, _) = await PostAsync(Body(metricId, evaluationId), key);
        retried.StatusCode.Should().Be(HttpStatusCode.Accepted, "the key is free once the first request ended");
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("clé")]
    [InlineData("tab\there")]
    [InlineData("\"stray\"quote\"")]
    public async Task An_unusable_key_is_400_and_starts_nothing(string key)
    {
        var (metricId, evaluationId) = AlignableMetric();

        var (response, body) = await PostAsync(Body(metricId, evaluationId), key);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, body.ToJsonString());
        ((string?)body["title"]).Should().Be("Invalid Idempotency-Key");
        (await RunsOfMetricAsync(metricId)).Should().Be(0);
    }

    [Fact]
    public async Task A_key_longer_than_the_bound_is_400_naming_the_bound()
    {
        var (metricId, evaluationId) = AlignableMetric();

        var (response, body) = await PostAsync(Body(metricId, evaluationId), new string('k', IdempotencyKey.MaxLength + 1));
        var (atBound, _) = await PostAsync(Body(metricId, evaluationId), new string('k', IdempotencyKey.MaxLength - 36) + Guid.NewGuid());

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        ((string?)body["detail"]).Should().Contain($"at most {IdempotencyKey.MaxLength}");
        atBound.StatusCode.Should().Be(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task A_refused_request_reserves_nothing_so_the_corrected_one_may_use_the_key()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();

        var (refused, _) = await PostAsync(Body(metricId, evaluationId, threshold: 40), key);
        var (corrected, body) = await PostAsync(Body(metricId, evaluationId, threshold: 2), key);

        refused.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        corrected.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        corrected.Headers.Contains(IdempotencyKey.ReplayedHeaderName).Should().BeFalse();
    }

    [Fact]
    public async Task A_refused_request_leaves_no_row_for_its_key()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();

        var (unknownMetric, _) = await PostAsync(Body(Guid.NewGuid(), evaluationId), key);
        var (invalid, _) = await PostAsync(Body(metricId, evaluationId, threshold: 40), key);

        unknownMetric.StatusCode.Should().Be(HttpStatusCode.NotFound);
        invalid.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await KeyAsync(key)).Should().BeNull("the claim of a refused request is deleted, not left leased");
    }

    [Fact]
    public async Task A_started_key_keeps_its_run_and_holds_no_lease()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();

        var (response, body) = await PostAsync(Body(metricId, evaluationId), key);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        var row = await KeyAsync(key);
        row.Should().NotBeNull();
        row!.RunId.Should().Be(Guid.Parse((string)body["id"]!));
        row.LeaseUntil.Should().BeNull("the request released its lease when it was answered");
        row.StartedAt.Should().NotBeNull();
    }

    [Fact]
    public async Task A_key_whose_lease_ran_out_is_taken_over_and_starts_the_run_under_the_reserved_id()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();
        var reserved = Guid.NewGuid();
        var request = new StartAlignmentRunRequest { MetricId = metricId, EvaluationIds = [evaluationId], DeltaThreshold = 2 };
        // What a process killed while it waited for the saga leaves behind: the key reserved, its lease still running.
        await using (var connection = await DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                INSERT INTO idempotency_keys (workspace, key, request_hash, run_id, created_at, lease_id, lease_until)
                VALUES (@workspace, @key, @hash, @reserved, now(), @leaseId, now() + interval '1 minute')
                """, new { workspace = TestTokens.Workspace, key, hash = IdempotencyKey.Fingerprint(request), reserved, leaseId = Guid.NewGuid() });
        }

        var (whileLeased, _) = await PostAsync(Body(metricId, evaluationId), key);
        await using (var connection = await DataSource.OpenConnectionAsync())
            await connection.ExecuteAsync("UPDATE idempotency_keys SET lease_until = now() - interval '1 second' WHERE key = @key", new { key });
        var (takenOver, body) = await PostAsync(Body(metricId, evaluationId), key);
        var (repeat, repeatBody) = await PostAsync(Body(metricId, evaluationId), key);

        whileLeased.StatusCode.Should().Be(HttpStatusCode.Conflict, "the lease of the killed request has not run out yet");
        (await RunsOfMetricAsync(metricId)).Should().Be(1);
        takenOver.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        ((string?)body["id"]).Should().Be(reserved.ToString(), "the start is sent again under the run id the key reserved");
        takenOver.Headers.Contains(IdempotencyKey.ReplayedHeaderName).Should().BeFalse();
        repeat.Headers.GetValues(IdempotencyKey.ReplayedHeaderName).Should().Equal("true");
        ((string?)repeatBody["id"]).Should().Be(reserved.ToString());
    }

    [Fact]
    public async Task A_key_whose_lease_ran_out_before_its_request_was_validated_is_a_new_key()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();
        // A process killed while it validated the request: the key claimed, bound to no request, its lease run out.
        await using (var connection = await DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                INSERT INTO idempotency_keys (workspace, key, request_hash, run_id, created_at, lease_id, lease_until)
                VALUES (@workspace, @key, NULL, @runId, now(), @leaseId, now() - interval '1 second')
                """, new { workspace = TestTokens.Workspace, key, runId = Guid.NewGuid(), leaseId = Guid.NewGuid() });
        }

        var (response, body) = await PostAsync(Body(metricId, evaluationId, threshold: 1), key);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        response.Headers.Contains(IdempotencyKey.ReplayedHeaderName).Should().BeFalse();
        (await KeyAsync(key))!.RequestHash.Should().NotBeNull();
    }

    [Fact]
    public async Task Concurrent_requests_with_one_key_make_one_run_and_are_answered_with_it_or_told_to_retry()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => PostAsync(Body(metricId, evaluationId), key)));

        answers.Select(a => a.Response.StatusCode).Should().OnlyContain(status => status == HttpStatusCode.Accepted || status == HttpStatusCode.Conflict);
        var accepted = answers.Where(a => a.Response.StatusCode == HttpStatusCode.Accepted).ToList();
        accepted.Select(a => (string?)a.Body["id"]).Distinct().Should().ContainSingle();
        accepted.Count(a => !a.Response.Headers.Contains(IdempotencyKey.ReplayedHeaderName)).Should().Be(1,
            "only the request that took the key started the run; the others replayed it");
        answers.Where(a => a.Response.StatusCode == HttpStatusCode.Conflict)
            .Should().OnlyContain(a => a.Response.Headers.RetryAfter != null);
        (await RunsOfMetricAsync(metricId)).Should().Be(1);
    }

    [Fact]
    public async Task A_retry_after_a_failure_between_the_key_and_the_run_starts_the_reserved_run()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();
        var reserved = Guid.NewGuid();
        var request = new StartAlignmentRunRequest { MetricId = metricId, EvaluationIds = [evaluationId], DeltaThreshold = 2 };
        // The state a request leaves when it stored the key and then failed (broker timeout, client gone) before the saga
        // stored the run: the key reserved, its lease released.
        await using (var interrupted = (await ClaimAsync(key, reserved)).Claim)
            await interrupted!.ReserveAsync(IdempotencyKey.Fingerprint(request), TimeSpan.FromHours(1), CancellationToken.None);

        var (response, body) = await PostAsync(Body(metricId, evaluationId), key);
        var (repeat, repeatBody) = await PostAsync(Body(metricId, evaluationId), key);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        ((string?)body["id"]).Should().Be(reserved.ToString(), "the retry sends the start under the run id the key reserved");
        ((string?)repeatBody["id"]).Should().Be(reserved.ToString());
        repeat.Headers.GetValues(IdempotencyKey.ReplayedHeaderName).Should().Equal("true");
        (await RunsOfMetricAsync(metricId)).Should().Be(1);
    }

    [Fact]
    public async Task An_expired_key_is_a_new_key_and_expired_keys_are_pruned()
    {
        var (metricId, evaluationId) = AlignableMetric();
        var key = NewKey();
        var stale = NewKey();
        await using (var connection = await DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                INSERT INTO idempotency_keys (workspace, key, request_hash, run_id, created_at)
                VALUES (@workspace, @key, 'another request', @runId, now() - interval '25 hours'),
                       (@workspace, @stale, 'another request', @runId, now() - interval '25 hours')
                """, new { workspace = TestTokens.Workspace, key, stale, runId = Guid.NewGuid() });
        }

        var (response, body) = await PostAsync(Body(metricId, evaluationId), key);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        await using (var connection = await DataSource.OpenConnectionAsync())
        {
            (await connection.ExecuteScalarAsync<Guid>("SELECT run_id FROM idempotency_keys WHERE key = @key", new { key }))
                .Should().Be(Guid.Parse((string)body["id"]!));
            (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM idempotency_keys WHERE key = @stale", new { stale })).Should().Be(0);
        }
    }

    [Fact]
    public async Task Keys_are_per_workspace()
    {
        var key = NewKey();
        var (ownMetric, ownEvaluation) = AlignableMetric();
        var (otherMetric, otherEvaluation) = AlignableMetric(TestTokens.OtherWorkspace);
        using var other = app.ClientAs(Roles.MetricEditor, TestTokens.OtherWorkspace);

        var (own, ownBody) = await PostAsync(Body(ownMetric, ownEvaluation), key);
        var (theirs, theirBody) = await PostAsync(other, Body(otherMetric, otherEvaluation), key);

        own.StatusCode.Should().Be(HttpStatusCode.Accepted);
        theirs.StatusCode.Should().Be(HttpStatusCode.Accepted, theirBody.ToJsonString());
        ((string?)theirBody["id"]).Should().NotBe((string?)ownBody["id"]);
        theirs.Headers.Contains(IdempotencyKey.ReplayedHeaderName).Should().BeFalse();
    }

    [Fact]
    public async Task Without_the_header_each_request_starts_its_own_run()
    {
        var (metricId, evaluationId) = AlignableMetric();

        var (first, firstBody) = await PostAsync(Body(metricId, evaluationId), key: null);
        var (second, secondBody) = await PostAsync(Body(metricId, evaluationId), key: null);

        first.StatusCode.Should().Be(HttpStatusCode.Accepted);
        second.StatusCode.Should().Be(HttpStatusCode.Accepted);
        ((string?)secondBody["id"]).Should().NotBe((string?)firstBody["id"]);
        (await RunsOfMetricAsync(metricId)).Should().Be(2);
    }
}
