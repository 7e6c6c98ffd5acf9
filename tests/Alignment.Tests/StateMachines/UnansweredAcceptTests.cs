using System.Net;
using System.Net.Http.Json;
using Dapper;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Alignment.Tests.Api;
using MetricAlignment.Alignment.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.StateMachines;

/// <summary>The Alignment service on a real broker and database with no Metrics service consuming its requests.</summary>
[Collection(AlignmentAppCollection.Name)]
public sealed class When_no_metrics_service_answers_an_accept(AlignmentAppFixture app)
{
    [Fact]
    public async Task The_sweeper_re_sends_it_then_returns_the_run_to_aligned_so_it_can_be_accepted_again()
    {
        var (_, runId) = await app.StartAlignableRunAsync("custom");
        ((string?)(await app.WaitForStatusAsync(runId, "aligned"))["status"]).Should().Be("aligned");
        (await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        (await app.WaitForStatusAsync(runId, "accepting"))["status"]!.GetValue<string>().Should().Be("accepting");
        var sweeper = app.Factory.Services.GetServices<IHostedService>().OfType<StalledRunSweeper>().Single();

        // A zero timeout makes every sweep find the run; the saga counts only the report about its latest send.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var run = await app.GetRunAsync(runId);
        while ((string?)run["status"] == "accepting" && DateTime.UtcNow < deadline)
        {
            await sweeper.SweepAcceptsAsync(TimeSpan.Zero, maxSends: 2, CancellationToken.None);
            await Task.Delay(200);
            run = await app.GetRunAsync(runId);
        }

        ((string?)run["status"]).Should().Be("aligned");
        ((string?)run["acceptRejection"]!["phase"]).Should().Be(AlignmentRunStateMachine.MetricsUnavailable);
        ((string?)run["acceptRejection"]!["detail"]).Should().StartWith("Accept failed: the Metrics service did not answer (2 requests");
        var dataSource = app.Factory.Services.GetRequiredService<NpgsqlDataSource>();
        await using (var connection = await dataSource.OpenConnectionAsync())
            (await connection.ExecuteScalarAsync<int>("SELECT (document->>'acceptSends')::integer FROM alignment_runs WHERE correlation_id = @runId", new { runId }))
                .Should().Be(2, "one request and one re-send, however many sweeps reported the run");

        // The user may try again: the accept is taken up afresh.
        (await app.Client.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        (await app.WaitForStatusAsync(runId, "accepting"))["acceptRejection"].Should().BeNull();
    }
}
