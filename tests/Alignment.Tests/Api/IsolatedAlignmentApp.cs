using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;

namespace MetricAlignment.Alignment.Tests.Api;

/// <summary>
/// The Alignment service on a database and RabbitMQ vhost of its own (<c>alignment_&lt;name&gt;</c>,
/// <c>alignment-&lt;name&gt;</c>), with the Metrics and Annotations services faked, healthy before it is handed out, and
/// gone with its database and vhost when disposed: what a fixture with its own settings starts.
/// </summary>
public sealed class IsolatedAlignmentApp : IAsyncDisposable
{
    IsolatedAlignmentApp(string database, string virtualHost, WebApplicationFactory<Program> factory)
    {
        Database = database;
        VirtualHost = virtualHost;
        Factory = factory;
        Client = factory.CreateClient().As(Roles.MetricEditor);
    }

    public string Database { get; }
    public string VirtualHost { get; }
    public WebApplicationFactory<Program> Factory { get; }
    /// <summary>A client acting as a metric editor of the default workspace.</summary>
    public HttpClient Client { get; }

    /// <param name="database">Adjusts the database's connection string (a smaller pool, say) before the service gets it.</param>
    /// <param name="factory">Adjusts the service beyond settings (test services, observers).</param>
    public static async Task<IsolatedAlignmentApp> StartAsync(string name, IMetricsClient metrics, IAnnotationsClient annotations,
        Dictionary<string, string> settings, Func<string, string>? database = null,
        Func<WebApplicationFactory<Program>, WebApplicationFactory<Program>>? factory = null)
    {
        var created = await TestInfrastructure.CreateDatabaseAsync($"alignment_{name}");
        var connectionString = database?.Invoke(created) ?? created;
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync($"alignment-{name}");
        var service = AlignmentAppFixture.CreateFactory(connectionString, virtualHost, metrics, annotations, settings);
        var app = new IsolatedAlignmentApp(connectionString, virtualHost, factory?.Invoke(service) ?? service);
        (await app.Client.GetAsync("/health")).EnsureSuccessStatusCode();
        return app;
    }

    /// <summary>Polls the run until <paramref name="until"/> holds or <paramref name="timeout"/> (60 s) passes; returns the last view.</summary>
    public async Task<JsonNode> WaitForRunAsync(Guid id, Func<JsonNode, bool> until, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var run = JsonNode.Parse(await Client.GetStringAsync($"/api/alignment-runs/{id}"))!;
            if (until(run) || DateTime.UtcNow > deadline) return run;
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the run is aligned or in error.</summary>
    public Task<JsonNode> WaitForSettledAsync(Guid id) => WaitForRunAsync(id, run => (string?)run["status"] is "aligned" or "error");

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(Database);
        await TestInfrastructure.DeleteVirtualHostAsync(VirtualHost);
    }
}
