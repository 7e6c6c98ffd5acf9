using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using MetricAlignment.DatasetImport;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MetricAlignment.EndToEnd.Tests;

/// <summary>
/// The whole distributed app, started through the AppHost as in production, on the local PostgreSQL and RabbitMQ:
/// databases and a vhost of its own, passed as the configured connection strings.
/// </summary>
public class DistributedAppFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);
    public static readonly string[] Services = ["metrics", "annotations", "alignment"];

    readonly Dictionary<string, string> _databases = new();
    string? _vhost;

    public DistributedApplication App { get; private set; } = null!;
    public string MessagingConnectionString => _vhost!;

    public async Task InitializeAsync()
    {
        foreach (var name in new[] { "metricsdb", "annotationsdb", "alignmentdb" })
            _databases[name] = await TestInfrastructure.CreateDatabaseAsync("e2e");
        _vhost = await TestInfrastructure.CreateVirtualHostAsync("e2e");

        var args = _databases.Select(d => $"--ConnectionStrings:{d.Key}={d.Value}")
            .Append($"--ConnectionStrings:messaging={_vhost}")
            // The services trust the tests' tokens: they are signed with the key the AppHost hands the development issuer.
            .Concat(TestTokens.AppHostArguments)
            .Concat(AppHostArguments)
            .ToArray();
        using var cts = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(args, cts.Token);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        builder.Services.ConfigureHttpClientDefaults(http => http.AddStandardResilienceHandler(options =>
        {
            options.AttemptTimeout.Timeout = TimeSpan.FromSeconds(60);
            options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(120);
            options.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(120);
        }));
        await ConfigureAsync(builder);
        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);
        foreach (var service in Services)
            await App.ResourceNotifications.WaitForResourceHealthyAsync(service, cts.Token);
        await OnStartedAsync(cts.Token);
    }

    /// <summary>Extra AppHost arguments (configuration) of a fixture that needs the app set up differently.</summary>
    protected virtual IEnumerable<string> AppHostArguments => [];

    /// <summary>Changes to the app model before it is built, e.g. environment of one resource.</summary>
    protected virtual Task ConfigureAsync(IDistributedApplicationTestingBuilder builder) => Task.CompletedTask;

    /// <summary>Waits beyond the services being healthy, e.g. for every replica.</summary>
    protected virtual Task OnStartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A client of the service that calls as an admin of the default workspace.</summary>
    public HttpClient CreateClient(string service) => CreateClient(service, Roles.Admin);

    /// <summary>A client of the service that calls with the role in the workspace.</summary>
    public HttpClient CreateClient(string service, string role, string workspace = TestTokens.Workspace) =>
        App.CreateHttpClient(service, "http").As(role, workspace);

    readonly SemaphoreSlim _importGate = new(1, 1);
    IReadOnlyList<ImportedEvaluation>? _imported;

    /// <summary>The real dataset imported once through the Annotations API, as the run command does.</summary>
    public async Task<IReadOnlyList<ImportedEvaluation>> EnsureDatasetImportedAsync()
    {
        await _importGate.WaitAsync();
        try
        {
            if (_imported is not null) return _imported;
            using var annotations = CreateClient("annotations");
            annotations.Timeout = TimeSpan.FromMinutes(2);
            _imported = await new AnnotationsImporter(annotations).ImportAsync(RepositoryPaths.Dataset, null, CancellationToken.None);
            return _imported;
        }
        finally
        {
            _importGate.Release();
        }
    }

    public virtual async Task DisposeAsync()
    {
        if (App is not null) await App.DisposeAsync();
        foreach (var connectionString in _databases.Values)
            await TestInfrastructure.DropDatabaseAsync(connectionString);
        if (_vhost is not null) await TestInfrastructure.DeleteVirtualHostAsync(_vhost);
    }
}

[CollectionDefinition(Name)]
public sealed class DistributedAppCollection : ICollectionFixture<DistributedAppFixture>
{
    public const string Name = "distributed app";
}
