using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using MetricAlignment.Metrics.Api;
using MetricAlignment.Metrics.Extensions;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;

namespace MetricAlignment.Metrics.Tests;

/// <summary>The Metrics service, in process, on a database and a RabbitMQ vhost of its own.</summary>
public sealed class MetricsServiceFixture : IAsyncLifetime
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    string messagingConnectionString = "";
    readonly List<HttpClient> clients = [];

    public string DatabaseConnectionString { get; private set; } = "";
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    /// <summary>An admin of the default workspace.</summary>
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        DatabaseConnectionString = await TestInfrastructure.CreateDatabaseAsync("metrics");
        messagingConnectionString = await TestInfrastructure.CreateVirtualHostAsync("metrics");
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(host =>
        {
            host.UseSetting($"ConnectionStrings:{MetricsServiceExtensions.DatabaseName}", DatabaseConnectionString);
            host.UseSetting("ConnectionStrings:messaging", messagingConnectionString);
        });
        Client = ClientAs(Roles.Admin);
    }

    /// <summary>A client whose requests carry a token for the role in the workspace.</summary>
    public HttpClient ClientAs(string role, string workspace = TestTokens.Workspace)
    {
        var client = Factory.CreateClient().As(role, workspace);
        lock (clients) clients.Add(client);
        return client;
    }

    /// <summary>A client without a token.</summary>
    public HttpClient AnonymousClient()
    {
        var client = Factory.CreateClient();
        lock (clients) clients.Add(client);
        return client;
    }

    public async Task DisposeAsync()
    {
        foreach (var client in clients) client.Dispose();
        await Factory.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(DatabaseConnectionString);
        await TestInfrastructure.DeleteVirtualHostAsync(messagingConnectionString);
    }

    public async Task<MetricDetail> GetMetricAsync(string idOrKey, HttpClient? client = null)
    {
        var response = await (client ?? Client).GetAsync($"/api/metrics/{idOrKey}");
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<MetricDetail>(Json))!;
    }

    /// <summary>A fresh custom 1-5 metric with a unique key (unless given one), in the client's workspace (default's admin by default).</summary>
    public async Task<MetricDetail> CreateCustomMetricAsync(string? name = null, HttpClient? client = null, string? key = null)
    {
        var response = await (client ?? Client).PostAsJsonAsync("/api/metrics", new
        {
            key,
            name = name ?? $"Tone {Guid.NewGuid():N}",
            description = "How well the tone suits the user.",
            type = "quantitative",
            scaleMin = 1,
            scaleMax = 5,
            scope = "turn",
            systemPrompt = "You judge tone.",
            userPromptTemplate = "User: {{input}}\nAssistant: {{output}}\nScore the tone from 1 to 5.",
            author = "test@example.com",
        }, Json);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<MetricDetail>(Json))!;
    }
}
