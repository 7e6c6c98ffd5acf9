extern alias metrics;
extern alias annotations;
extern alias alignment;
using alignment::MetricAlignment.Alignment.Clients;
using annotations::MetricAlignment.Annotations.Metrics;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
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

    readonly InProcessServices services = new();

    public ServiceUnderTest Metrics { get; private set; } = null!;
    public ServiceUnderTest Annotations { get; private set; } = null!;
    public ServiceUnderTest Alignment { get; private set; } = null!;
    public IEnumerable<ServiceUnderTest> All => [Metrics, Annotations, Alignment];

    public async Task InitializeAsync()
    {
        var metrics = await services.StartIsolatedAsync<MetricsProgram>("hostile", "metricsdb");
        Metrics = new("Metrics", await services.ClientAsync(metrics, Roles.Admin), metrics.Database);

        var annotations = await services.StartIsolatedAsync<AnnotationsProgram>("hostile", "annotationsdb", new Dictionary<string, string>
        {
            ["Annotations:MetricsServiceUrl"] = "http://localhost/",
            ["Annotations:Import:MaxBodyBytes"] = ImportMaxBodyBytes.ToString(),
            ["Annotations:Import:MaxLineBytes"] = ImportMaxLineBytes.ToString(),
        }, testServices => testServices.AddHttpClient<IMetricCatalog, HttpMetricCatalog>().CallingInProcess(metrics));
        Annotations = new("Annotations", await services.ClientAsync(annotations, Roles.Admin), annotations.Database);

        var alignment = await services.StartIsolatedAsync<AlignmentProgram>("hostile", "alignmentdb", testServices: testServices => testServices
            .ReplaceAll<IMetricsClient>(new FakeMetricsClient())
            .ReplaceAll<IAnnotationsClient>(new FakeAnnotationsClient()));
        Alignment = new("Alignment", await services.ClientAsync(alignment, Roles.Admin), alignment.Database);
    }

    // Clients before their services, Alignment and Annotations before the Metrics service they call.
    public Task DisposeAsync() => services.DisposeAsync().AsTask();
}

[CollectionDefinition(Name)]
public sealed class HostileServicesCollection : ICollectionFixture<HostileServices>
{
    public const string Name = "hostile services";
}
