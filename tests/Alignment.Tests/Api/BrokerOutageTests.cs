using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Api;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Api;

/// <summary>
/// The Alignment service whose broker goes away after start: its vhost is deleted, so the bus loses its connection and
/// cannot get it back, as when RabbitMQ is down. Its own app and vhost, since the shared fixture needs a working bus.
/// </summary>
public sealed class BrokerOutageFixture : IAsyncLifetime
{
    public static readonly TimeSpan BusTimeout = TimeSpan.FromSeconds(2);
    string database = null!;
    string virtualHost = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;
    public FakeMetricsClient Metrics { get; } = new();
    public FakeAnnotationsClient Annotations { get; } = new();

    public async Task InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("alignment_outage");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("alignment-outage");
        Factory = AlignmentAppFixture.CreateFactory(database, virtualHost, Metrics, Annotations,
            new() { [BusCalls.BusTimeoutKey] = BusTimeout.ToString() });
        Client = Factory.CreateClient().As(Roles.MetricEditor);
        (await Client.GetAsync("/health")).EnsureSuccessStatusCode();
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(database);
    }

    /// <summary>A run written straight to the database: with the broker down the saga cannot create one.</summary>
    public async Task<Guid> SeedRunAsync(string state)
    {
        var run = new AlignmentRunState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = state, MetricId = Guid.NewGuid(), MetricKey = "faithfulness",
            MetricName = "Faithfulness", MetricKind = AlignmentRunStateMachine.BuiltInKind, MetricType = "quantitative", MetricVersion = 1,
            Disagreements = 3,
        };
        var dataSource = Factory.Services.GetRequiredService<NpgsqlDataSource>();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await AlignmentRunStore.InsertAsync(connection, transaction, run, CancellationToken.None);
        await transaction.CommitAsync();
        return run.CorrelationId;
    }
}

public sealed class When_the_broker_is_down(BrokerOutageFixture app) : IClassFixture<BrokerOutageFixture>
{
    // The bus timeout plus the database reads before it; far below the client's own 100 s.
    static readonly TimeSpan Promptly = BrokerOutageFixture.BusTimeout + TimeSpan.FromSeconds(8);

    [Fact]
    public async Task Accepting_a_run_answers_503_with_retry_after_instead_of_hanging()
    {
        var runId = await app.SeedRunAsync("Aligned");

        var (response, body, elapsed) = await TimedPostAsync($"/api/alignment-runs/{runId}/accept", new { });

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, body.ToJsonString());
        elapsed.Should().BeLessThan(Promptly);
        response.Headers.RetryAfter.Should().NotBeNull();
        ((string?)body["runId"]).Should().Be(runId.ToString());
        ((string?)body["detail"]).Should().Contain("idempotent by run id");
        // Nothing was applied: the run is still waiting for its decision.
        (await app.Client.GetFromJsonAsync<JsonNode>($"/api/alignment-runs/{runId}"))!["status"]!.GetValue<string>().Should().Be("aligned");
    }

    [Fact]
    public async Task Cancelling_a_run_answers_503_with_retry_after_instead_of_hanging()
    {
        var runId = await app.SeedRunAsync("Running");

        var (response, body, elapsed) = await TimedPostAsync($"/api/alignment-runs/{runId}/cancel", null);

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, body.ToJsonString());
        elapsed.Should().BeLessThan(Promptly);
        response.Headers.RetryAfter.Should().NotBeNull();
        ((string?)body["title"]).Should().Be("The message broker is unavailable");
    }

    [Fact]
    public async Task Starting_a_run_answers_503_with_retry_after_and_leaves_no_run_behind()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);

        var (response, body, elapsed) = await TimedPostAsync("/api/alignment-runs",
            new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, body.ToJsonString());
        elapsed.Should().BeLessThan(Promptly);
        response.Headers.RetryAfter.Should().NotBeNull();
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        ((string?)body["title"]).Should().Be("The message broker is unavailable");
        var runId = Guid.Parse((string)body["runId"]!);
        // The client is told the id to look for, and that it finds nothing: the start was cancelled unsent, not queued.
        ((string?)body["detail"]).Should().Contain($"GET /api/alignment-runs/{runId}");
        (await app.Client.GetAsync($"/api/alignment-runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        var dataSource = app.Factory.Services.GetRequiredService<NpgsqlDataSource>();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM alignment_runs WHERE correlation_id = @id", connection);
        count.Parameters.AddWithValue("id", runId);
        ((long)(await count.ExecuteScalarAsync())!).Should().Be(0, "no half-created run is left in the saga table");
    }

    async Task<(HttpResponseMessage Response, JsonNode Body, TimeSpan Elapsed)> TimedPostAsync(string path, object? body)
    {
        var clock = Stopwatch.StartNew();
        var response = body is null ? await app.Client.PostAsync(path, null) : await app.Client.PostAsJsonAsync(path, body);
        clock.Stop();
        return (response, JsonNode.Parse(await response.Content.ReadAsStringAsync())!, clock.Elapsed);
    }
}
