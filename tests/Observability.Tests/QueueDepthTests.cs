using System.Diagnostics.Metrics;
using MassTransit;
using MassTransit.Events;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MetricAlignment.Observability.Tests;

public sealed record QueueDepthProbe
{
    public required Guid Id { get; init; }
}

/// <summary>One per host, so that permits one test leaves unused cannot let another test's messages through.</summary>
public sealed class QueueDepthProbeGate
{
    public SemaphoreSlim Release { get; } = new(0);
}

/// <summary>Holds every message until the test lets go, so the rest wait in the queue.</summary>
public sealed class HeldQueueDepthProbeConsumer(QueueDepthProbeGate gate) : IConsumer<QueueDepthProbe>
{
    public async Task Consume(ConsumeContext<QueueDepthProbe> context) => await gate.Release.WaitAsync(context.CancellationToken);
}

public sealed class QueueDepthProbeFanOutConsumer : IConsumer<QueueDepthProbe>
{
    public Task Consume(ConsumeContext<QueueDepthProbe> context) => Task.CompletedTask;
}

/// <summary>The messaging.queue.depth gauge against the real broker.</summary>
public sealed class Queue_depth : IAsyncLifetime
{
    const string HeldQueue = "held-queue-depth-probe";
    const int Published = 6;

    readonly QueueDepthProbeGate gate = new();
    string virtualHost = "";
    IHost host = null!;

    public async Task InitializeAsync()
    {
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("depth");
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:messaging"] = virtualHost;
        builder.Configuration[QueueDepthMetric.IntervalKey] = "00:00:00.200";
        builder.Services.AddSingleton(gate);
        builder.AddMessageBus(bus =>
        {
            bus.AddConsumer<HeldQueueDepthProbeConsumer>().Endpoint(endpoint =>
            {
                endpoint.Name = HeldQueue;
                // One message in the consumer's hands, the rest ready in the queue.
                endpoint.PrefetchCount = 1;
                endpoint.ConcurrentMessageLimit = 1;
            });
            bus.AddConsumer<QueueDepthProbeFanOutConsumer>().Endpoint(endpoint =>
            {
                endpoint.Temporary = true;
                endpoint.InstanceId = Guid.NewGuid().ToString("N")[..12];
            });
        });
        host = builder.Build();
        await host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        gate.Release.Release(Published);
        await host.StopAsync();
        host.Dispose();
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }

    [Fact]
    public async Task Messages_waiting_behind_a_busy_consumer_are_reported_and_the_gauge_falls_once_they_are_consumed()
    {
        var bus = host.Services.GetRequiredService<IBus>();
        for (var i = 0; i < Published; i++) await bus.Publish(new QueueDepthProbe { Id = Guid.NewGuid() });

        var waiting = await EventuallyAsync(depths => depths.GetValueOrDefault(HeldQueue) >= Published - 1);
        waiting[HeldQueue].Should().BeGreaterThanOrEqualTo(Published - 1, "one message is with the consumer and the rest wait");
        waiting.Keys.Should().NotContain(name => name.StartsWith("queue-depth-probe-fan-out", StringComparison.Ordinal),
            "a temporary endpoint's queue is not the service's backlog");

        gate.Release.Release(Published);
        var drained = await EventuallyAsync(depths => depths.GetValueOrDefault(HeldQueue, -1) == 0);
        drained[HeldQueue].Should().Be(0);
    }

    [Fact]
    public async Task A_queue_that_does_not_exist_gets_no_series_and_the_others_keep_reporting()
    {
        var missing = new Uri(new Uri(virtualHost.Replace("amqp://", "rabbitmq://", StringComparison.Ordinal) + "/"), "no-such-queue");
        foreach (var observer in host.Services.GetServices<IReceiveEndpointObserver>())
            await observer.Ready(new ReceiveEndpointReadyEvent(missing, null!, true));
        var bus = host.Services.GetRequiredService<IBus>();
        for (var i = 0; i < Published; i++) await bus.Publish(new QueueDepthProbe { Id = Guid.NewGuid() });

        // Several polls after the 404 closed the channel, the real queue is still read on a new one.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var depths = await EventuallyAsync(d => d.GetValueOrDefault(HeldQueue) >= Published - 1);

        depths.Keys.Should().NotContain("no-such-queue");
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested
            .Should().BeFalse("a missing queue must not stop the service");
    }

    /// <summary>Observes the gauge until the condition holds, and returns the last observation by queue.</summary>
    static async Task<IReadOnlyDictionary<string, long>> EventuallyAsync(Func<IReadOnlyDictionary<string, long>, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var depths = Observe();
            if (condition(depths) || DateTime.UtcNow > deadline) return depths;
            await Task.Delay(100);
        }
    }

    static Dictionary<string, long> Observe()
    {
        var depths = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Telemetry.MeterName && instrument.Name == QueueDepthMetric.InstrumentName)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == QueueDepthMetric.QueueTag) depths[(string)tag.Value!] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return depths;
    }
}
