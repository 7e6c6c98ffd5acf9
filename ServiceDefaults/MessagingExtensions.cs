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
