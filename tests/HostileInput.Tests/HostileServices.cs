extern alias metrics;
extern alias annotations;
extern alias alignment;
using alignment::MetricAlignment.Alignment.Clients;
using annotations::MetricAlignment.Annotations.Metrics;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using AlignmentProgram = alignment::Program;
using AnnotationsProgram = annotations::Program;
using MetricsProgram = metrics::Program;

namespace MetricAlignment.HostileInput.Tests;

/// <summary>One service under attack: its client, its database, and what has been sent to it.</summary>
public sealed record ServiceUnderTest(string Name, HttpClient Client, string DatabaseConnectionString);

/// <summary>
/// The three services in process, each on a fresh database and RabbitMQ vhost, called by an admin of the default
/// workspace so that the hostile input gets past authentication and reaches the endpoints. Annotations asks the
/// in-process Metrics service for its catalogue; Alignment sees fakes of Metrics and Annotations, so that any metric or
/// evaluation it is given is either the one known metric or unknown.
/// </summary>
public sealed class HostileServices : IAsyncLifetime
{
    /// <summary>Limits made small here so that "over the limit" costs seconds, not gigabytes.</summary>
    public const long ImportMaxBodyBytes = 8L << 20;
    public const long ImportMaxLineBytes = 256L << 10;

    readonly List<string> databases = [];
    readonly List<string> virtualHosts = [];
    readonly List<IDisposable> disposables = [];

    public ServiceUnderTest Metrics { get; private set; } = null!;
    public ServiceUnderTest Annotations { get; private set; } = null!;
    public ServiceUnderTest Alignment { get; private set; } = null!;
    public IEnumerable<ServiceUnderTest> All => [Metrics, Annotations, Alignment];

    public async Task InitializeAsync()
    {
        var metricsDb = await DatabaseAsync("hostile_metrics");
        var metricsVhost = await VirtualHostAsync("hostile-metrics");
        var metricsFactory = Track(new WebApplicationFactory<MetricsProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:metricsdb", metricsDb);
            web.UseSetting("ConnectionStrings:messaging", metricsVhost);
        }));
        Metrics = new("Metrics", Track(metricsFactory.CreateClient().As(Roles.Admin)), metricsDb);

        var annotationsDb = await DatabaseAsync("hostile_annotations");
        var annotationsVhost = await VirtualHostAsync("hostile-annotations");
        var annotationsFactory = Track(new WebApplicationFactory<AnnotationsProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:annotationsdb", annotationsDb);
            web.UseSetting("ConnectionStrings:messaging", annotationsVhost);
            web.UseSetting("Annotations:MetricsServiceUrl", "http://localhost/");
            web.UseSetting("Annotations:Import:MaxBodyBytes", ImportMaxBodyBytes.ToString());
            web.UseSetting("Annotations:Import:MaxLineBytes", ImportMaxLineBytes.ToString());
            web.ConfigureTestServices(services => services.AddHttpClient<IMetricCatalog, HttpMetricCatalog>()
                .ConfigurePrimaryHttpMessageHandler(() => metricsFactory.Server.CreateHandler()));
        }));
        Annotations = new("Annotations", Track(annotationsFactory.CreateClient().As(Roles.Admin)), annotationsDb);

        var alignmentDb = await DatabaseAsync("hostile_alignment");
        var alignmentVhost = await VirtualHostAsync("hostile-alignment");
        var alignmentFactory = Track(new WebApplicationFactory<AlignmentProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:alignmentdb", alignmentDb);
            web.UseSetting("ConnectionStrings:messaging", alignmentVhost);
            web.ConfigureTestServices(services =>
            {
                services.RemoveAll<IMetricsClient>();
                services.RemoveAll<IAnnotationsClient>();
                services.AddSingleton<IMetricsClient>(new FakeMetricsClient());
                services.AddSingleton<IAnnotationsClient>(new FakeAnnotationsClient());
            });
        }));
        Alignment = new("Alignment", Track(alignmentFactory.CreateClient().As(Roles.Admin)), alignmentDb);

        foreach (var service in All)
            (await service.Client.GetAsync("/health")).EnsureSuccessStatusCode();
    }

    async Task<string> DatabaseAsync(string prefix)
    {
        var connectionString = await TestInfrastructure.CreateDatabaseAsync(prefix);
        databases.Add(connectionString);
        return connectionString;
    }

    async Task<string> VirtualHostAsync(string prefix)
    {
        var connectionString = await TestInfrastructure.CreateVirtualHostAsync(prefix);
        virtualHosts.Add(connectionString);
        return connectionString;
    }

    T Track<T>(T disposable) where T : IDisposable
    {
        disposables.Add(disposable);
        return disposable;
    }

    public async Task DisposeAsync()
    {
        // Clients before their factories, Alignment and Annotations before the Metrics service they call.
        for (var i = disposables.Count - 1; i >= 0; i--)
        {
            if (disposables[i] is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync();
            else disposables[i].Dispose();
        }
        foreach (var database in databases) await TestInfrastructure.DropDatabaseAsync(database);
        foreach (var virtualHost in virtualHosts) await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }
}

[CollectionDefinition(Name)]
public sealed class HostileServicesCollection : ICollectionFixture<HostileServices>
{
    public const string Name = "hostile services";
}
