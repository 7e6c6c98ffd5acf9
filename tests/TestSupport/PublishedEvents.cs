using System.Collections.Concurrent;
using MassTransit;

namespace MetricAlignment.TestSupport;

/// <summary>
/// What a consumer bound to the events' exchanges received, per event type and run. Deliveries and distinct message ids
/// are kept apart: a message redelivered to this consumer because its acknowledgement was cut (at-least-once delivery)
/// is one publish delivered twice, while two message ids are two publishes.
/// </summary>
public sealed class PublishedEvents
{
    readonly ConcurrentDictionary<(string Type, Guid RunId), ConcurrentDictionary<Guid, int>> received = new();

    public Task Record(string type, Guid runId, Guid? messageId)
    {
        received.GetOrAdd((type, runId), _ => new()).AddOrUpdate(messageId ?? Guid.NewGuid(), 1, (_, count) => count + 1);
        return Task.CompletedTask;
    }

    /// <summary>Records the message under its type's name (<c>MetricVersioned</c>).</summary>
    public Task Record<T>(ConsumeContext<T> context, Guid runId) where T : class => Record(typeof(T).Name, runId, context.MessageId);

    /// <summary>Distinct messages of the type published for the run.</summary>
    public int Count(string type, Guid runId) => received.TryGetValue((type, runId), out var messages) ? messages.Count : 0;

    /// <summary>Distinct messages of any type published for the run.</summary>
    public int Count(Guid runId) => OfRun(runId).Sum(messages => messages.Count);

    /// <summary>Deliveries of any type for the run, redeliveries included.</summary>
    public int Deliveries(Guid runId) => OfRun(runId).Sum(messages => messages.Values.Sum());

    public int Total(string type, IEnumerable<Guid> runIds) => runIds.Sum(id => Count(type, id));

    /// <summary>Distinct messages of every type and run.</summary>
    public int TotalMessages => received.Values.Sum(messages => messages.Count);
    public int TotalDeliveries => received.Values.Sum(messages => messages.Values.Sum());

    /// <summary>Waits until every run has at least one event of the type (or the bound passes), then a moment for duplicates.</summary>
    public async Task SettleAsync(string type, IEnumerable<Guid> runIds, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (runIds.Any(id => Count(type, id) == 0) && DateTime.UtcNow < deadline) await Task.Delay(100);
        await Task.Delay(TimeSpan.FromSeconds(2));
    }

    IEnumerable<ConcurrentDictionary<Guid, int>> OfRun(Guid runId) =>
        received.Where(entry => entry.Key.RunId == runId).Select(entry => entry.Value);
}

/// <summary>
/// A bus of the test's own with one durable queue bound to the events' exchanges: what the services publish while it
/// reconnects waits there and is counted later.
/// </summary>
public static class CountingBus
{
    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Starts the bus on the broker's vhost (<c>rabbitmq://host:port/vhost</c>), its queue handled by <paramref name="handlers"/>.</summary>
    public static async Task<IBusControl> StartAsync(Uri vhost, string user, string password, string queue,
        Action<IRabbitMqReceiveEndpointConfigurator> handlers)
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(configurator =>
        {
            configurator.Host(vhost, host =>
            {
                host.Username(user);
                host.Password(password);
            });
            configurator.ReceiveEndpoint(queue, handlers);
        });
        using var started = new CancellationTokenSource(StartTimeout);
        await bus.StartAsync(started.Token);
        return bus;
    }

    /// <summary>Starts the bus on an amqp://user:password@host:port/vhost connection string (<see cref="TestInfrastructure.CreateVirtualHostAsync"/>'s).</summary>
    public static Task<IBusControl> StartAsync(string messaging, string queue, Action<IRabbitMqReceiveEndpointConfigurator> handlers)
    {
        var broker = new Uri(messaging);
        var credentials = broker.UserInfo.Split(':', 2).Select(Uri.UnescapeDataString).ToArray();
        return StartAsync(new Uri($"rabbitmq://{broker.Host}:{broker.Port}{broker.AbsolutePath}"), credentials[0], credentials[1], queue, handlers);
    }

    /// <summary>Stops the bus, if it started.</summary>
    public static async Task StopAsync(IBusControl? bus)
    {
        if (bus is null) return;
        using var stopping = new CancellationTokenSource(StopTimeout);
        await bus.StopAsync(stopping.Token);
    }
}
