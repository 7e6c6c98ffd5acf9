using System.Reflection;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MetricAlignment.ServiceDefaults;

public static class MessagingExtensions
{
    public const string ConnectionName = "messaging";
    public const string QuorumQueuesKey = "Messaging:QuorumQueues";

    /// <summary>The longest the bus waits for in-flight messages when stopping; shorter when the host's budget is.</summary>
    public static readonly TimeSpan MaxStopTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// MassTransit on RabbitMQ from the "messaging" connection string (amqp://user:password@host:port/vhost).
    /// Every service connects, even one without consumers, so that it can publish and report broker health.
    /// </summary>
    public static TBuilder AddMessageBus<TBuilder>(this TBuilder builder, Action<IBusRegistrationConfigurator>? configure = null,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? configureBus = null)
        where TBuilder : IHostApplicationBuilder
    {
        var connectionString = builder.Configuration.GetConnectionString(ConnectionName)
            ?? throw new InvalidOperationException($"Connection string '{ConnectionName}' is not configured.");
        var broker = new Uri(connectionString);
        var quorumQueues = builder.Configuration.GetValue<bool>(QuorumQueuesKey);
        var shutdown = ShutdownExtensions.ShutdownTimeout(builder.Configuration);
        CorrelateRunMessagesByRunId(typeof(Contracts.StartAlignmentRun).Assembly);
        if (ServiceAssembly(builder.Environment.ApplicationName) is { } service) CorrelateRunMessagesByRunId(service);

        builder.Services.AddMassTransit(bus =>
        {
            bus.SetKebabCaseEndpointNameFormatter();
            // The usage report is an outbound call to the internet; platform deployments do not allow it.
            bus.ConfigureUsageTelemetryOptions(options => options.Enabled = false);
            configure?.Invoke(bus);
            // On a cluster, classic queues live on one node; quorum queues are replicated and survive losing it.
            if (quorumQueues) bus.AddConfigureEndpointsCallback((_, _, endpoint) => UseQuorumQueue(endpoint));

            bus.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(broker.Host, (ushort)(broker.IsDefaultPort ? 5672 : broker.Port), VirtualHost(broker), host =>
                {
                    var (user, password) = Credentials(broker);
                    host.Username(user);
                    host.Password(password);
                    host.PublisherConfirmation = true;
                });
                configureBus?.Invoke(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });

        // A publish made before the endpoints finished binding on a fresh vhost is lost; start fully first.
        builder.Services.Configure<MassTransitHostOptions>(options =>
        {
            options.WaitUntilStarted = true;
            options.StartTimeout = TimeSpan.FromSeconds(60);
            // Within the host's shutdown grace period: in-flight consumers get ConsumerStopTimeout to finish, then
            // their CancellationToken fires and what they did not acknowledge goes back to the queue for another instance.
            var (consumerStop, stop) = ShutdownExtensions.BusStopTimeouts(shutdown, MaxStopTimeout);
            options.ConsumerStopTimeout = consumerStop;
            options.StopTimeout = stop;
        });
        builder.Services.AddQueueDepthMetric(builder.Configuration, broker);
        return builder;
    }

    /// <summary>
    /// Every message about a run (a public class with a <c>Guid RunId</c>: the contracts and the service's own messages)
    /// carries the run id as the envelope's correlationId, so that a consumer, a broker trace or a log search can follow
    /// one run across its messages without reading their bodies. MassTransit's send topology is process-wide, so each
    /// assembly is done once per process, however many hosts call AddMessageBus.
    /// </summary>
    public static void CorrelateRunMessagesByRunId(Assembly assembly)
    {
        // Hosts built side by side (tests) must not update the global topology at the same time.
        lock (CorrelatedAssemblies)
        {
            if (CorrelatedAssemblies.Add(assembly)) CorrelateRunMessages(assembly);
        }
    }

    static readonly HashSet<Assembly> CorrelatedAssemblies = [];

    static void CorrelateRunMessages(Assembly assembly)
    {
        var correlate = typeof(MessagingExtensions).GetMethod(nameof(CorrelateByRunId), BindingFlags.NonPublic | BindingFlags.Static)!;
        foreach (var type in assembly.GetExportedTypes().Where(t => t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false }))
        {
            if (type.GetProperty(RunIdProperty, BindingFlags.Public | BindingFlags.Instance) is { PropertyType: var propertyType, CanRead: true }
                && propertyType == typeof(Guid))
                correlate.MakeGenericMethod(type).Invoke(null, null);
        }
    }

    const string RunIdProperty = "RunId";

    static void CorrelateByRunId<T>() where T : class
    {
        var runId = (Func<T, Guid>)Delegate.CreateDelegate(typeof(Func<T, Guid>), typeof(T).GetProperty(RunIdProperty)!.GetGetMethod()!);
        GlobalTopology.Send.UseCorrelationId(runId);
    }

    /// <summary>The service's own assembly (its messages live there); none when the host is not named after one.</summary>
    static Assembly? ServiceAssembly(string applicationName)
    {
        try
        {
            return string.IsNullOrWhiteSpace(applicationName) ? null : Assembly.Load(new AssemblyName(applicationName));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Durable, shared queues become quorum queues. A temporary endpoint (auto-delete, non-durable or exclusive, such as
    /// the Alignment service's per-instance cancellation fan-out) stays classic: RabbitMQ refuses those as quorum queues.
    /// </summary>
    static void UseQuorumQueue(IReceiveEndpointConfigurator endpoint)
    {
        if (endpoint is not IRabbitMqReceiveEndpointConfigurator rabbit) return;
        if (endpoint is MassTransit.RabbitMqTransport.Configuration.IRabbitMqReceiveEndpointConfiguration { Settings: var settings }
            && (!settings.Durable || settings.AutoDelete || settings.Exclusive)) return;
        rabbit.SetQuorumQueue();
    }

    internal static string VirtualHost(Uri broker)
    {
        var path = Uri.UnescapeDataString(broker.AbsolutePath.Trim('/'));
        return string.IsNullOrEmpty(path) ? "/" : path;
    }

    internal static (string User, string Password) Credentials(Uri broker)
    {
        if (string.IsNullOrEmpty(broker.UserInfo)) return ("guest", "guest");
        var parts = broker.UserInfo.Split(':', 2);
        return (Uri.UnescapeDataString(parts[0]), parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "");
    }
}
