using MassTransit;
using MetricAlignment.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MetricAlignment.Observability.Tests;

public sealed class Graceful_shutdown
{
    static IServiceProvider Build(params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:messaging"] = "amqp://guest:guest@127.0.0.1:5672/unused";
        foreach (var (key, value) in settings) builder.Configuration[key] = value;
        builder.AddServiceDefaults();
        builder.AddMessageBus();
        return builder.Services.BuildServiceProvider();
    }

    [Fact]
    public void The_host_waits_45_seconds_by_default_and_the_bus_stops_inside_that()
    {
        var services = Build();

        var host = services.GetRequiredService<IOptions<HostOptions>>().Value;
        var bus = services.GetRequiredService<IOptions<MassTransitHostOptions>>().Value;
        host.ShutdownTimeout.Should().Be(TimeSpan.FromSeconds(45));
        bus.StopTimeout.Should().BeLessThan(host.ShutdownTimeout);
        bus.ConsumerStopTimeout.Should().BeLessThan(bus.StopTimeout!.Value);
    }

    [Fact]
    public void The_DOTNET_SHUTDOWNTIMEOUTSECONDS_setting_sets_the_host_timeout_and_the_bus_follows()
    {
        // Host.CreateApplicationBuilder maps DOTNET_SHUTDOWNTIMEOUTSECONDS to this key.
        var services = Build(("shutdownTimeoutSeconds", "20"));

        var host = services.GetRequiredService<IOptions<HostOptions>>().Value;
        var bus = services.GetRequiredService<IOptions<MassTransitHostOptions>>().Value;
        host.ShutdownTimeout.Should().Be(TimeSpan.FromSeconds(20));
        bus.StopTimeout.Should().Be(TimeSpan.FromSeconds(16));
        bus.ConsumerStopTimeout.Should().BeGreaterThan(TimeSpan.FromSeconds(5)).And.BeLessThan(TimeSpan.FromSeconds(16));
    }

    [Theory]
    [InlineData(120, 30)]
    [InlineData(40, 30)]
    [InlineData(20, 16)]
    [InlineData(5, 4)]
    public void The_bus_stops_within_30_seconds_and_keeps_a_margin_before_the_host_gives_up(int shutdownSeconds, int expectedStopSeconds)
    {
        var (consumerStop, stop) = ShutdownExtensions.BusStopTimeouts(TimeSpan.FromSeconds(shutdownSeconds), MessagingExtensions.MaxStopTimeout);

        stop.Should().Be(TimeSpan.FromSeconds(expectedStopSeconds));
        consumerStop.Should().BePositive().And.BeLessThan(stop);
    }
}

public sealed record ShutdownProbe
{
    public required Guid Id { get; init; }
}

/// <summary>Never finishes on its own: only the shutdown's cancellation ends it.</summary>
public sealed class HangingShutdownProbeConsumer : IConsumer<ShutdownProbe>
{
    public static readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, TaskCompletionSource> Started = new();

    public async Task Consume(ConsumeContext<ShutdownProbe> context)
    {
        Started.GetOrAdd(context.Message.Id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        await Task.Delay(Timeout.Infinite, context.CancellationToken);
    }
}

public sealed class CompletingShutdownProbeConsumer : IConsumer<ShutdownProbe>
{
    public static readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, TaskCompletionSource> Consumed = new();

    public Task Consume(ConsumeContext<ShutdownProbe> context)
    {
        Consumed.GetOrAdd(context.Message.Id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        return Task.CompletedTask;
    }
}

/// <summary>On the real broker: what happens to the message an instance is working on when it is told to stop.</summary>
public sealed class Stopping_an_instance
{
    const string Queue = "shutdown-probe";

    static IHost Build<TConsumer>(string virtualHost, int shutdownSeconds) where TConsumer : class, IConsumer<ShutdownProbe>
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:messaging"] = virtualHost;
        builder.Configuration["shutdownTimeoutSeconds"] = shutdownSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.AddGracefulShutdown();
        builder.AddMessageBus(bus => bus.AddConsumer<TConsumer>().Endpoint(e => e.Name = Queue));
        return builder.Build();
    }

    [Fact]
    public async Task An_unfinished_message_is_handed_back_within_the_grace_period_and_another_instance_gets_it()
    {
        var virtualHost = await MetricAlignment.TestSupport.TestInfrastructure.CreateVirtualHostAsync("shutdown");
        try
        {
            var id = Guid.NewGuid();
            var started = HangingShutdownProbeConsumer.Started.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
            var consumed = CompletingShutdownProbeConsumer.Consumed.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
            // Disposed last: MassTransit's log context is process-wide and would outlive a disposed host's logger factory.
            using var stopping = Build<HangingShutdownProbeConsumer>(virtualHost, shutdownSeconds: 6);
            await stopping.StartAsync();
            await stopping.Services.GetRequiredService<IBus>().Publish(new ShutdownProbe { Id = id });
            await started.Task.WaitAsync(TimeSpan.FromSeconds(20));

            var clock = System.Diagnostics.Stopwatch.StartNew();
            await stopping.StopAsync();
            // The 6 s budget, not the bus's own 30 s maximum, ends the hanging consumer. Not compared with 6 s itself: on a
            // loaded machine the host's own stopping adds a moment to the budget (the split is checked in Graceful_shutdown).
            clock.Elapsed.Should().BeLessThan(MessagingExtensions.MaxStopTimeout, "the host's shutdown budget cuts the consumer short");

            using var next = Build<CompletingShutdownProbeConsumer>(virtualHost, shutdownSeconds: 6);
            await next.StartAsync();
            await consumed.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await next.StopAsync();
            consumed.Task.IsCompletedSuccessfully.Should().BeTrue();
        }
        finally
        {
            await MetricAlignment.TestSupport.TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }
    }
}
