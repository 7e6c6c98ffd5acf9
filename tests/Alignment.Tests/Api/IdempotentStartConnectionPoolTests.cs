using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using MetricAlignment.Alignment.Api;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Api;

/// <summary>
/// The Alignment service with a pool of <see cref="PoolSize"/> database connections, far fewer than the keyed starts
/// sent at once: a start that held a connection while it waited for the saga would starve the saga of the connection it
/// needs to acknowledge, and the starts would time out.
/// </summary>
public sealed class SmallConnectionPoolFixture : IAsyncLifetime
{
    public const int PoolSize = 10;
    IsolatedAlignmentApp app = null!;
    public WebApplicationFactory<Program> Factory => app.Factory;
    public FakeMetricsClient Metrics { get; } = new();
    public FakeAnnotationsClient Annotations { get; } = new();
    public string Database => app.Database;

    public async Task InitializeAsync() =>
        app = await IsolatedAlignmentApp.StartAsync("pool", Metrics, Annotations, new()
            {
                // Generous, so that only a starved pool (not a slow shared machine) can fail a start.
                [BusCalls.BusTimeoutKey] = "00:01:30",
                [IdempotencyKeys.LeaseKey] = "00:03:00",
            },
            database: created => new NpgsqlConnectionStringBuilder(created)
            {
                MaxPoolSize = PoolSize,
                // How long a request waits for a pooled connection: short holds pass it round quickly, but the machine the
                // tests share may be slow, and a wait that gives up is a 503 this test would take for a starved pool.
                Timeout = 60,
            }.ConnectionString);

    public async Task DisposeAsync() => await app.DisposeAsync();
}

/// <summary>
/// Run alone: two hundred starts at once load the shared machine enough to push other tests' starts past their bus
/// timeout, and other tests' load would slow these.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SmallConnectionPoolCollection : ICollectionFixture<SmallConnectionPoolFixture>
{
    public const string Name = "alignment app on a small connection pool";
}

[Collection(SmallConnectionPoolCollection.Name)]
public sealed class Idempotent_starts_on_a_small_connection_pool(SmallConnectionPoolFixture app)
{
    const int Starts = 200;

    [Fact]
    public async Task Many_more_concurrent_keyed_starts_than_pooled_connections_all_start_their_run()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        using var client = app.Factory.CreateClient().As(Roles.MetricEditor);
        var body = new JsonObject { ["metricId"] = metric.Id, ["evaluationIds"] = new JsonArray(evaluation.EvaluationId), ["deltaThreshold"] = 2 }
            .ToJsonString();

        var answers = await Task.WhenAll(Enumerable.Range(0, Starts).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/alignment-runs")
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation(IdempotencyKey.HeaderName, Guid.NewGuid().ToString());
            using var response = await client.SendAsync(request);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        answers.Where(a => a.StatusCode != HttpStatusCode.Accepted).Should().BeEmpty(
            $"{Starts} starts with different keys hold no connection while they wait, so a pool of {SmallConnectionPoolFixture.PoolSize} serves them all");
        answers.Select(a => (string?)JsonNode.Parse(a.Body)!["id"]).Distinct().Should().HaveCount(Starts);
        await using var connection = new NpgsqlConnection(app.Database);
        (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM alignment_runs WHERE metric_id = @id", new { id = metric.Id }))
            .Should().Be(Starts);
        (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM idempotency_keys WHERE started_at IS NOT NULL AND lease_until IS NULL"))
            .Should().Be(Starts, "every key was released, marked started");
    }
}
