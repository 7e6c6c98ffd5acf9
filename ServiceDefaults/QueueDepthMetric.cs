using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// The <c>messaging.queue.depth</c> gauge: ready messages in each durable queue this instance consumes from, read with a
/// passive queue declare so that no management plugin is needed. Static like the other instruments; every host in the
/// process (tests run several) adds its own monitor's last readings.
/// </summary>
public static class QueueDepthMetric
{
    public const string InstrumentName = "messaging.queue.depth";
    public const string QueueTag = "queue";
    public const string IntervalKey = "Messaging:QueueDepthInterval";
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(15);

    static readonly ConcurrentDictionary<QueueDepthMonitor, byte> Monitors = new();

    public static readonly ObservableGauge<long> QueueDepth = Telemetry.Meter.CreateObservableGauge(
        InstrumentName, Observe, "{message}", "Ready messages waiting in each durable queue this service consumes from.");

    internal static void AddQueueDepthMetric(this IServiceCollection services, IConfiguration configuration, Uri broker)
    {
        var interval = configuration.GetValue(IntervalKey, DefaultInterval);
        if (interval <= TimeSpan.Zero) throw new InvalidOperationException($"{IntervalKey} must be positive; it is {interval}.");
        services.AddSingleton<ConsumedQueues>();
        services.AddReceiveEndpointObserver(provider => provider.GetRequiredService<ConsumedQueues>());
        services.AddHostedService(provider => new QueueDepthMonitor(provider.GetRequiredService<ConsumedQueues>(), broker,
            interval, provider.GetRequiredService<IHostEnvironment>().ApplicationName,
            provider.GetRequiredService<ILogger<QueueDepthMonitor>>()));
    }

    internal static void Attach(QueueDepthMonitor monitor) => Monitors.TryAdd(monitor, 0);

    internal static void Detach(QueueDepthMonitor monitor) => Monitors.TryRemove(monitor, out _);

    static IEnumerable<Measurement<long>> Observe() =>
        Monitors.Keys.SelectMany(monitor => monitor.Depths).Select(depth =>
            new Measurement<long>(depth.Value, new KeyValuePair<string, object?>(QueueTag, depth.Key))).ToList();
}

/// <summary>The durable queues of the receive endpoints this instance's bus started.</summary>
sealed class ConsumedQueues : IReceiveEndpointObserver
{
    readonly ConcurrentDictionary<string, byte> names = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => names.Keys.ToList();

    public Task Ready(ReceiveEndpointReady ready)
    {
        if (DurableQueueName(ready.InputAddress) is { } name) names.TryAdd(name, 0);
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;

    /// <summary>
    /// The queue behind a RabbitMQ input address, or null for a temporary one: an exclusive queue refuses a passive
    /// declare from another connection, and an auto-delete one says nothing about the service's backlog.
    /// </summary>
    internal static string? DurableQueueName(Uri inputAddress)
    {
        var query = inputAddress.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0].ToLowerInvariant(), pair => pair.Length > 1 ? pair[1] : "", StringComparer.Ordinal);
        bool Is(string key, string value) => query.TryGetValue(key, out var actual) && string.Equals(actual, value, StringComparison.OrdinalIgnoreCase);
        if (Is("temporary", "true") || Is("autodelete", "true") || Is("exclusive", "true") || Is("durable", "false")) return null;
        var name = Uri.UnescapeDataString(inputAddress.Segments[^1].TrimEnd('/'));
        return string.IsNullOrEmpty(name) ? null : name;
    }
}

/// <summary>
/// Every interval, asks the broker how many ready messages each consumed queue holds and keeps the answers for the gauge.
/// One connection, opened on first use and again after a failure. A queue that is gone loses its series; while the
/// broker cannot be reached the gauge reports nothing rather than numbers that are no longer true. Neither stops the service.
/// </summary>
sealed class QueueDepthMonitor(ConsumedQueues queues, Uri broker, TimeSpan interval, string applicationName,
    ILogger<QueueDepthMonitor> logger) : BackgroundService
{
    const ushort NotFound = 404;

    readonly ConcurrentDictionary<string, long> depths = new(StringComparer.Ordinal);
    IConnection? connection;
    IChannel? channel;
    bool brokerUnreachable;

    public IEnumerable<KeyValuePair<string, long>> Depths => depths;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        QueueDepthMetric.Attach(this);
        try
        {
            using var timer = new PeriodicTimer(interval);
            do
            {
                await PollAsync(stoppingToken);
            } while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            QueueDepthMetric.Detach(this);
            await CloseAsync();
        }
    }

    async Task PollAsync(CancellationToken cancellationToken)
    {
        foreach (var queue in queues.Names)
        {
            try
            {
                var open = await OpenChannelAsync(cancellationToken);
                var declared = await open.QueueDeclarePassiveAsync(queue, cancellationToken);
                depths[queue] = declared.MessageCount;
                if (brokerUnreachable) logger.LogInformation("Reading queue depths from the broker again");
                brokerUnreachable = false;
            }
            catch (OperationInterruptedException e) when (connection is { IsOpen: true })
            {
                // The broker refused this queue and closed only the channel; the next queue opens a new one.
                depths.TryRemove(queue, out _);
                if (e.ShutdownReason?.ReplyCode == NotFound) logger.LogDebug("Queue {Queue} does not exist; no depth reported for it", queue);
                else logger.LogWarning(e, "The broker refused to report the depth of queue {Queue}", queue);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                depths.Clear();
                if (!brokerUnreachable) logger.LogWarning(e, "Cannot read queue depths from the broker; retrying every {Interval}", interval);
                else logger.LogDebug(e, "Still cannot read queue depths from the broker");
                brokerUnreachable = true;
                await CloseAsync();
                return;
            }
        }
    }

    async Task<IChannel> OpenChannelAsync(CancellationToken cancellationToken)
    {
        if (connection is not { IsOpen: true })
        {
            await CloseAsync();
            var (user, password) = MessagingExtensions.Credentials(broker);
            var factory = new ConnectionFactory
            {
                HostName = broker.Host,
                Port = broker.IsDefaultPort ? 5672 : broker.Port,
                VirtualHost = MessagingExtensions.VirtualHost(broker),
                UserName = user,
                Password = password,
                ClientProvidedName = $"{applicationName} queue depth",
                // Reopened by the next poll instead, so a failed poll never waits on a recovery in the background.
                AutomaticRecoveryEnabled = false,
                RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
                ContinuationTimeout = TimeSpan.FromSeconds(10),
            };
            connection = await factory.CreateConnectionAsync(cancellationToken);
        }
        if (channel is not { IsOpen: true })
        {
            if (channel is not null) await channel.DisposeAsync();
            channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        }
        return channel;
    }

    async Task CloseAsync()
    {
        try
        {
            if (channel is not null) await channel.DisposeAsync();
            if (connection is not null) await connection.DisposeAsync();
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "Closing the queue depth connection failed");
        }
        channel = null;
        connection = null;
    }
}
