using System.Globalization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.TestSupport;

/// <summary>
/// A fixture's services in process (WebApplicationFactory), each on the database and broker it is given or on a fresh
/// database and vhost of its own. On dispose, what it started or was handed goes in reverse order (a client before its
/// service, a service before the services it calls when started after them), then the databases and vhosts it created.
/// The caller's program types stay in the test projects: each service declares a global Program, told apart there by
/// extern aliases.
/// </summary>
public sealed class InProcessServices : IAsyncDisposable
{
    readonly List<string> databases = [];
    readonly List<string> virtualHosts = [];
    readonly List<IDisposable> disposables = [];

    /// <summary>A fresh database, dropped on dispose; returns its connection string.</summary>
    public async Task<string> DatabaseAsync(string prefix)
    {
        var connectionString = await TestInfrastructure.CreateDatabaseAsync(prefix);
        databases.Add(connectionString);
        return connectionString;
    }

    /// <summary>A fresh RabbitMQ vhost, deleted on dispose; returns its amqp:// connection string.</summary>
    public async Task<string> VirtualHostAsync(string prefix)
    {
        var connectionString = await TestInfrastructure.CreateVirtualHostAsync(prefix);
        virtualHosts.Add(connectionString);
        return connectionString;
    }

    /// <summary>Disposed with the services, before anything tracked earlier.</summary>
    public T Track<T>(T disposable) where T : IDisposable
    {
        lock (disposables) disposables.Add(disposable);
        return disposable;
    }

    /// <summary>
    /// The service on the given database (connection string <paramref name="databaseName"/>) and broker, with
    /// <paramref name="settings"/> on top and <paramref name="testServices"/> registered after the service's own.
    /// </summary>
    public InProcessService<TProgram> Start<TProgram>(string databaseName, string database, string messaging,
        IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? testServices = null) where TProgram : class
    {
        var factory = Track(new WebApplicationFactory<TProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting($"ConnectionStrings:{databaseName}", database);
            web.UseSetting("ConnectionStrings:messaging", messaging);
            foreach (var (key, value) in settings ?? new Dictionary<string, string>()) web.UseSetting(key, value);
            if (testServices is not null) web.ConfigureTestServices(testServices);
        }));
        return new(factory, database, messaging);
    }

    /// <summary>
    /// The service on a database and a vhost of its own, named after the fixture and the service
    /// (<c>security</c> and <c>metricsdb</c>: database <c>t_security_metrics_…</c>, vhost <c>t-security-metrics-…</c>).
    /// </summary>
    public async Task<InProcessService<TProgram>> StartIsolatedAsync<TProgram>(string prefix, string databaseName,
        IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? testServices = null) where TProgram : class
    {
        var service = databaseName.EndsWith("db", StringComparison.Ordinal) ? databaseName[..^2] : databaseName;
        var database = await DatabaseAsync($"{prefix}_{service}");
        var messaging = await VirtualHostAsync($"{prefix}-{service}");
        return Start<TProgram>(databaseName, database, messaging, settings, testServices);
    }

    /// <summary>A client of the service with a token for the role (disposed with the services), once /health answers.</summary>
    public async Task<HttpClient> ClientAsync<TProgram>(InProcessService<TProgram> service, string role, TimeSpan? timeout = null) where TProgram : class
    {
        var client = Track(service.Factory.CreateClient().As(role));
        if (timeout is { } bound) client.Timeout = bound;
        (await client.GetAsync("/health")).EnsureSuccessStatusCode();
        return client;
    }

    /// <summary>The Alignment worker's settings: how many runs it executes at once, how often a running run's heartbeat is written.</summary>
    public static IReadOnlyDictionary<string, string> AlignmentWorker(int concurrentRuns, TimeSpan heartbeatInterval) => new Dictionary<string, string>
    {
        ["Alignment:Worker:ConcurrentRuns"] = concurrentRuns.ToString(CultureInfo.InvariantCulture),
        ["Alignment:Worker:HeartbeatInterval"] = heartbeatInterval.ToString("c", CultureInfo.InvariantCulture),
    };

    public async ValueTask DisposeAsync()
    {
        for (var i = disposables.Count - 1; i >= 0; i--)
        {
            if (disposables[i] is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync();
            else disposables[i].Dispose();
        }
        foreach (var database in databases) await TestInfrastructure.DropDatabaseAsync(database);
        foreach (var virtualHost in virtualHosts) await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }
}

/// <summary>One service started by <see cref="InProcessServices"/>, with the connection strings it runs on.</summary>
public sealed record InProcessService<TProgram>(WebApplicationFactory<TProgram> Factory, string Database, string Messaging) where TProgram : class;
