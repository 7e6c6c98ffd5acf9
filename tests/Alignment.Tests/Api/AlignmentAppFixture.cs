using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MetricAlignment.Alignment.Tests.Api;

/// <summary>The Alignment service on a fresh database and RabbitMQ vhost, with the Metrics and Annotations services faked.</summary>
public sealed class AlignmentAppFixture : IAsyncLifetime
{
    string database = null!;
    string virtualHost = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;
    public FakeMetricsClient Metrics { get; } = new();
    public FakeAnnotationsClient Annotations { get; } = new();

    public async Task InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("alignment_api");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("alignment-api");
        Factory = CreateFactory(database, virtualHost, Metrics, Annotations, new() { ["Alignment:Worker:HeartbeatInterval"] = "00:00:01" });
        Client = Factory.CreateClient().As(Roles.MetricEditor);
        (await Client.GetAsync("/health")).EnsureSuccessStatusCode();
    }

    /// <summary>The Alignment service on the given database and vhost with its Metrics and Annotations clients replaced.</summary>
    public static WebApplicationFactory<Program> CreateFactory(string database, string virtualHost, IMetricsClient metrics,
        IAnnotationsClient annotations, Dictionary<string, string> settings) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:alignmentdb", database);
            web.UseSetting("ConnectionStrings:messaging", virtualHost);
            foreach (var (key, value) in settings) web.UseSetting(key, value);
            web.ConfigureTestServices(services =>
            {
                services.RemoveAll<IMetricsClient>();
                services.RemoveAll<IAnnotationsClient>();
                services.AddSingleton(metrics);
                services.AddSingleton(annotations);
            });
        });

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(database);
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }

    /// <summary>A client of its own whose requests carry a token for the role in the workspace (the caller disposes it).</summary>
    public HttpClient ClientAs(string role, string workspace = TestTokens.Workspace) => Factory.CreateClient().As(role, workspace);

    /// <summary>A client whose requests carry no token.</summary>
    public HttpClient AnonymousClient() => Factory.CreateClient();

    public async Task<JsonNode> GetRunAsync(Guid id) =>
        JsonNode.Parse(await Client.GetStringAsync($"/api/alignment-runs/{id}"))!;

    /// <summary>Polls the run until <paramref name="until"/> holds or the timeout passes; returns the last view.</summary>
    public async Task<JsonNode> WaitForRunAsync(Guid id, Func<JsonNode, bool> until, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var run = await GetRunAsync(id);
            if (until(run) || DateTime.UtcNow > deadline) return run;
            await Task.Delay(100);
        }
    }

    public Task<JsonNode> WaitForStatusAsync(Guid id, string status, TimeSpan? timeout = null) =>
        WaitForRunAsync(id, run => (string?)run["status"] == status, timeout);

    public async Task<(HttpResponseMessage Response, JsonNode Body)> StartAsync(object request)
    {
        var response = await Client.PostAsJsonAsync("/api/alignment-runs", request);
        return (response, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    /// <summary>A metric with one completed evaluation whose rows hold three disagreements; returns the started run's id.</summary>
    public async Task<(MetricInfo Metric, Guid RunId)> StartAlignableRunAsync(string kind = "built_in")
    {
        var metric = Metrics.Add(kind);
        var evaluation = Annotations.AddEvaluation(metric.Id);
        Annotations.Rows[metric.Id] = ct => FakeAnnotationsClient.SixRows(metric.Id, evaluation.EvaluationId, ct);
        var (response, body) = await StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 2 });
        response.StatusCode.Should().Be(System.Net.HttpStatusCode.Accepted, body.ToJsonString());
        return (metric, Guid.Parse((string)body["id"]!));
    }
}

[CollectionDefinition(Name)]
public sealed class AlignmentAppCollection : ICollectionFixture<AlignmentAppFixture>
{
    public const string Name = "alignment app";
}
