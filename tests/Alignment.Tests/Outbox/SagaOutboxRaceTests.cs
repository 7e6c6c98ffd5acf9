using MassTransit;
using MetricAlignment.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Alignment.Tests.Outbox;

/// <summary>
/// Two processes with the transactional outbox on, each running a dispatcher over the shared outbox: starts, cancels
/// and duplicate starts of many runs race, and every event still goes out exactly as often as the saga decided.
/// </summary>
public sealed class When_two_processes_with_outboxes_race_on_many_runs : IAsyncLifetime
{
    const int Runs = 30;
    readonly SagaOutboxInfrastructure infrastructure = new();
    readonly SeenEvents seen = new();

    public Task InitializeAsync() => infrastructure.InitializeAsync();

    public Task DisposeAsync() => infrastructure.DisposeAsync();

    [Fact]
    public async Task Every_run_is_cancelled_once_and_queued_at_most_once()
    {
        var hosts = await Task.WhenAll(
            infrastructure.StartHostAsync(dispatcher: true, seen),
            infrastructure.StartHostAsync(dispatcher: true, seen));
        IBus Bus(int index) => hosts[index].Services.GetRequiredService<IBus>();
        var runIds = Enumerable.Range(0, Runs).Select(_ => NewId.NextGuid()).ToList();

        var sends = new List<Task>();
        foreach (var runId in runIds)
        {
            var start = SagaOutboxInfrastructure.Start(runId);
            sends.Add(Bus(0).Publish(start));
            sends.Add(Bus(1).Publish(new CancelAlignmentRun { RunId = runId, RequestedAt = DateTimeOffset.UtcNow }));
            sends.Add(Bus(1).Publish(start));
            sends.Add(Bus(0).Publish(start));
        }
        await Task.WhenAll(sends);

        foreach (var runId in runIds) await seen.WaitForAsync<AlignmentRunCancelled>(runId, TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(2));

        runIds.Should().OnlyContain(id => seen.Count<AlignmentRunCancelled>(id) == 1);
        runIds.Should().OnlyContain(id => seen.Count<AlignmentRunQueued>(id) <= 1);
        (await infrastructure.QueryScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE dispatched_at IS NULL"))
            .Should().Be(0, "both dispatchers drained the outbox");
    }
}
