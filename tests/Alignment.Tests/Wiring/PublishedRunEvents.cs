using System.Collections.Concurrent;
using MassTransit;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.Wiring;

/// <summary>
/// Records the AlignmentRunAligned and AlignmentRunFailed events the running service publishes, on a queue of the test's
/// own bound to their exchanges, as any consumer of the contracts would receive them.
/// </summary>
public sealed class PublishedRunEvents : IAsyncDisposable
{
    readonly ConcurrentQueue<object> received = new();
    HostReceiveEndpointHandle endpoint = null!;

    PublishedRunEvents()
    {
    }

    public static async Task<PublishedRunEvents> ListenAsync(IBus bus)
    {
        var events = new PublishedRunEvents();
        events.endpoint = bus.ConnectReceiveEndpoint($"test-run-events-{Guid.NewGuid():N}", e =>
        {
            if (e is IRabbitMqReceiveEndpointConfigurator rabbit) rabbit.AutoDelete = true;
            e.Handler<AlignmentRunAligned>(context => events.Record(context.Message));
            e.Handler<AlignmentRunFailed>(context => events.Record(context.Message));
        });
        await events.endpoint.Ready;
        return events;
    }

    Task Record(object message)
    {
        received.Enqueue(message);
        return Task.CompletedTask;
    }

    /// <summary>The first event of type T about the run, waiting for it a bounded time.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool> about, TimeSpan? timeout = null) where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var match = received.OfType<T>().FirstOrDefault(about);
            if (match is not null) return match;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"No {typeof(T).Name} about the run arrived; received: {string.Join(", ", received.Select(e => e.GetType().Name))}.");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync() => await endpoint.StopAsync();
}
