using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using MetricAlignment.Alignment.Api;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Api;

/// <summary>
/// An instance works on one start at a time and queues one more; a start's eligibility lookup (the Annotations service)
/// answers only when a test lets it, so a test decides how many starts are in progress.
/// </summary>
public sealed class One_start_at_a_time : IAsyncLifetime
{
    readonly FakeMetricsClient metrics = new();
    readonly FakeAnnotationsClient annotations = new();
    IsolatedAlignmentApp app = null!;
    int answering;
    int mostAnsweringAtOnce;

    public async Task InitializeAsync() =>
        app = await IsolatedAlignmentApp.StartAsync("admission", metrics, annotations, new()
        {
            [StartAdmission.MaxConcurrentKey] = "1",
            [StartAdmission.MaxQueuedKey] = "1",
        });

    public async Task DisposeAsync() => await app.DisposeAsync();

    /// <summary>Every start's eligibility lookup waits for <paramref name="answer"/>; the lookups in progress are counted.</summary>
    void EligibilityAnswersAfter(Func<CancellationToken, Task> answer) => annotations.EligibilityAnswering = async cancellationToken =>
    {
        InterlockedMax(ref mostAnsweringAtOnce, Interlocked.Increment(ref answering));
        try
        {
            await answer(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref answering);
        }
    };

    static void InterlockedMax(ref int target, int value)
    {
        for (var current = Volatile.Read(ref target); value > current; current = Volatile.Read(ref target))
            if (Interlocked.CompareExchange(ref target, value, current) == current) return;
    }

    Task<HttpResponseMessage> StartAsync(Guid metricId, Guid evaluationId, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/alignment-runs")
        {
            Content = JsonContent.Create(new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 1 }),
        };
        if (idempotencyKey is not null) request.Headers.Add(IdempotencyKey.HeaderName, idempotencyKey);
        return app.Client.SendAsync(request);
    }

    async Task<long> RunCountAsync()
    {
        await using var connection = new NpgsqlConnection(app.Database);
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM alignment_runs");
    }

    async Task WaitForMetricsCallsAsync(int calls)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (metrics.Calls.Count < calls && DateTime.UtcNow < deadline) await Task.Delay(20);
        metrics.Calls.Count.Should().Be(calls);
    }

    [Fact]
    public async Task A_start_beyond_the_queue_is_refused_with_503_and_Retry_After_and_starts_nothing()
    {
        var metric = metrics.Add();
        var evaluation = annotations.AddEvaluation(metric.Id);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        EligibilityAnswersAfter(cancellationToken => release.Task.WaitAsync(cancellationToken));

        var first = StartAsync(metric.Id, evaluation.EvaluationId);
        await WaitForMetricsCallsAsync(1);
        var queued = StartAsync(metric.Id, evaluation.EvaluationId);
        // The queued start is admitted in order; give it a moment to take its place before the one that finds the queue full.
        await Task.Delay(300);
        using var refused = await StartAsync(metric.Id, evaluation.EvaluationId, idempotencyKey: "admission-full-1");

        refused.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        refused.Headers.RetryAfter.Should().NotBeNull();
        refused.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
        ((string?)problem["title"]).Should().Be("Too many starts waiting");
        ((string?)problem["detail"]).Should().Contain(StartAdmission.MaxQueuedKey).And.Contain("Nothing was started");
        queued.IsCompleted.Should().BeFalse("the second start waits its turn rather than being refused");
        metrics.Calls.Should().HaveCount(1, "neither the waiting nor the refused start called another service");

        release.SetResult();
        using var firstResponse = await first;
        using var queuedResponse = await queued;
        firstResponse.StatusCode.Should().Be(HttpStatusCode.Accepted);
        queuedResponse.StatusCode.Should().Be(HttpStatusCode.Accepted);
        (await RunCountAsync()).Should().Be(2, "the refused start left no run");
        await using var connection = new NpgsqlConnection(app.Database);
        (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM idempotency_keys WHERE key = 'admission-full-1'"))
            .Should().Be(0, "a start refused before it was admitted never took its key, so a retry may use it");
    }

    [Fact]
    public async Task Starts_sent_at_once_are_all_started_one_at_a_time_in_turn()
    {
        var metric = metrics.Add();
        var evaluation = annotations.AddEvaluation(metric.Id);
        // Each call answers after a moment, so that starts let through together would overlap inside it.
        EligibilityAnswersAfter(cancellationToken => Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken));

        // Two at once: one in progress, one queued (the queue holds one); sent in two waves so that none is refused.
        var responses = new List<HttpResponseMessage>();
        for (var wave = 0; wave < 3; wave++)
            responses.AddRange(await Task.WhenAll(StartAsync(metric.Id, evaluation.EvaluationId), StartAsync(metric.Id, evaluation.EvaluationId)));

        responses.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.Accepted);
        mostAnsweringAtOnce.Should().Be(1, "the instance validates one start at a time");
        (await RunCountAsync()).Should().Be(6);
        foreach (var response in responses) response.Dispose();
    }
}
