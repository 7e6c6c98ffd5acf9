extern alias alignment;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using alignment::MetricAlignment.Alignment.Clients;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using AlignmentProgram = alignment::Program;

namespace MetricAlignment.HostileInput.Tests;

/// <summary>A run over more rows than allowed fails, saying why, instead of loading them all. Its own app: this test writes.</summary>
public sealed class RowsPerRunLimitTests : IAsyncLifetime
{
    const int MaxRowsPerRun = 5;
    readonly FakeAnnotationsClient annotations = new() { RowsPerStream = 50 };
    string database = "";
    string virtualHost = "";
    WebApplicationFactory<AlignmentProgram> factory = null!;

    public async Task InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("hostile_rows");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("hostile-rows");
        factory = new WebApplicationFactory<AlignmentProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:alignmentdb", database);
            web.UseSetting("ConnectionStrings:messaging", virtualHost);
            web.UseSetting("Alignment:Worker:MaxRowsPerRun", MaxRowsPerRun.ToString());
            web.ConfigureTestServices(services =>
            {
                services.RemoveAll<IMetricsClient>();
                services.RemoveAll<IAnnotationsClient>();
                services.AddSingleton<IMetricsClient>(new FakeMetricsClient());
                services.AddSingleton<IAnnotationsClient>(annotations);
            });
        });
    }

    public async Task DisposeAsync()
    {
        await factory.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(database);
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }

    [Fact]
    public async Task A_run_over_more_rows_than_the_configured_maximum_fails_naming_the_limit()
    {
        using var client = factory.CreateClient().As(Roles.Admin);
        var evaluation = annotations.AddCompletedEvaluation(FakeMetricsClient.KnownMetricId);

        var response = await client.PostAsJsonAsync("/api/alignment-runs",
            new { metricId = FakeMetricsClient.KnownMetricId, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 1 });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var id = (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!;

        JsonNode run;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            await Task.Delay(200);
            run = JsonNode.Parse(await client.GetStringAsync($"/api/alignment-runs/{id}"))!;
        } while ((string?)run["status"] is "pending" or "running" && DateTime.UtcNow < deadline);

        ((string?)run["status"]).Should().Be("error", run.ToJsonString());
        ((string?)run["error"]?["detail"]).Should().Contain($"more than {MaxRowsPerRun} resolved rows").And.Contain("Alignment:Worker:MaxRowsPerRun");
        ((int?)run["counts"]?["rowsLoaded"]).Should().BeLessThanOrEqualTo(MaxRowsPerRun);
    }
}
