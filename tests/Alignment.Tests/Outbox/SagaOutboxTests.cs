using MassTransit;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Persistence.Outbox;
using MetricAlignment.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Alignment.Tests.Outbox;

/// <summary>
/// The AlignmentRun saga on its PostgreSQL repository with the transactional outbox: what a transition publishes is
/// written in the transaction that saves the run, and goes out even when the process dies right after that commit.
/// </summary>
public sealed class When_the_saga_publishes_through_the_transactional_outbox : IAsyncLifetime
{
    readonly SagaOutboxInfrastructure infrastructure = new();
    readonly SeenEvents seen = new();

    public Task InitializeAsync() => infrastructure.InitializeAsync();

    public Task DisposeAsync() => infrastructure.DisposeAsync();

    [Fact]
    public async Task A_transition_writes_its_events_into_the_outbox_with_the_run_and_deterministic_ids()
    {
        var host = await infrastructure.StartHostAsync(dispatcher: false, seen);
        var runId = NewId.NextGuid();
        var messageId = NewId.NextGuid();

        await host.Services.GetRequiredService<IBus>().Publish(SagaOutboxInfrastructure.Start(runId), c => c.MessageId = messageId);
        var run = await infrastructure.WaitForRunAsync(host, runId, r => r.CurrentState == "Pending");

        run!.CurrentState.Should().Be("Pending");
        var rows = await infrastructure.OutboxRowsAsync(runId);
        rows.Select(r => r.MessageType).Should().Equal(
            [SagaOutboxInfrastructure.TypeName<AlignmentRunQueued>(), SagaOutboxInfrastructure.TypeName<ExecuteAlignmentRun>()],
            "the start's events are in the outbox, in the order the saga published them");
        rows.Select(r => r.Id).Should().Equal(
            AlignmentRunOutbox.MessageIdFor(runId, messageId, 0, typeof(AlignmentRunQueued)),
            AlignmentRunOutbox.MessageIdFor(runId, messageId, 1, typeof(ExecuteAlignmentRun)));
        rows.Should().OnlyContain(r => r.DispatchedAt == null, "no dispatcher runs in this process");
        await Task.Delay(500);
        seen.Count<AlignmentRunQueued>(runId).Should().Be(0, "nothing reached the broker: only the outbox holds the events");
        seen.ObservedQueued(runId).Should().Be(0, "publish observers (the run outcome metrics) see only real publishes");
    }

    [Fact]
    public async Task A_transition_whose_save_fails_leaves_no_events_in_the_outbox()
    {
        var host = await infrastructure.StartHostAsync(dispatcher: true, seen);
        var runId = NewId.NextGuid();
        // The run's row is written after the saga published its events: failing that write must take the events with it.
        await infrastructure.ExecuteAsync($$"""
            CREATE FUNCTION refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.correlation_id = '{{runId}}' AND NEW.current_state <> 'Initial' THEN RAISE EXCEPTION 'refused'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_run BEFORE INSERT OR UPDATE ON alignment_runs FOR EACH ROW EXECUTE FUNCTION refuse_run();
            """);
        var control = NewId.NextGuid();

        var bus = host.Services.GetRequiredService<IBus>();
        await bus.Publish(SagaOutboxInfrastructure.Start(runId));
        await bus.Publish(SagaOutboxInfrastructure.Start(control));
        await seen.WaitForAsync<AlignmentRunQueued>(control);
        // The refused run's retries (50 ms to 1 s apart) are over by now.
        await Task.Delay(TimeSpan.FromSeconds(3));

        (await infrastructure.OutboxRowsAsync(runId)).Should().BeEmpty("the transaction that captured them rolled back");
        (await infrastructure.QueryScalarAsync<long>("SELECT count(*) FROM alignment_runs WHERE correlation_id = @runId", new { runId }))
            .Should().Be(0);
        seen.Count<AlignmentRunQueued>(runId).Should().Be(0);
        (await infrastructure.OutboxRowsAsync(control)).Should().HaveCount(2, "another run's transition is unaffected");
    }

    [Fact]
    public async Task Events_committed_by_a_process_that_died_before_publishing_go_out_when_a_new_process_starts_and_the_run_completes()
    {
        var dying = await infrastructure.StartHostAsync(dispatcher: false, seen);
        var runId = NewId.NextGuid();
        await dying.Services.GetRequiredService<IBus>().Publish(SagaOutboxInfrastructure.Start(runId));
        await infrastructure.WaitForRunAsync(dying, runId, r => r.CurrentState == "Pending");
        (await infrastructure.OutboxRowsAsync(runId)).Should().HaveCount(2);
        await infrastructure.StopAsync(dying);
        seen.Count<AlignmentRunQueued>(runId).Should().Be(0, "the process died between its commit and its publish");

        var successor = await infrastructure.StartHostAsync(dispatcher: true, seen, worker: true, metrics: true);
        await seen.WaitForAsync<AlignmentRunAligned>(runId);
        var aligned = await infrastructure.WaitForRunAsync(successor, runId, r => r.CurrentState == "Aligned");
        aligned!.CurrentState.Should().Be("Aligned", "the worker got the ExecuteAlignmentRun the dead process had committed");

        // Accepting goes through the outbox as a request: the Metrics stand-in answers the address it names.
        await successor.Services.GetRequiredService<IBus>().Publish(new AcceptAlignmentRun
        {
            RunId = runId, OverrideNewerVersion = false, ForkName = "faithfulness-aligned", RequestedAt = DateTimeOffset.UtcNow,
        });
        await seen.WaitForAsync<AlignmentRunAccepted>(runId);
        var accepted = await infrastructure.WaitForRunAsync(successor, runId, r => r.CurrentState == "Accepted");
        accepted!.CurrentState.Should().Be("Accepted");
        await Task.Delay(1000);

        seen.Count<AlignmentRunQueued>(runId).Should().Be(1);
        seen.ObservedQueued(runId).Should().Be(1, "the dispatcher's publish is observed like any other");
        seen.Count<ExecuteAlignmentRun>(runId).Should().Be(1);
        seen.Count<AlignmentRunAligned>(runId).Should().Be(1);
        seen.Count<MetricForked>(runId).Should().Be(1);
        seen.Count<AlignmentRunAccepted>(runId).Should().Be(1);
        var request = seen.Single<CreateMetricFork>(runId);
        request.RequestId.Should().Be(runId, "the outbox keeps the request's RequestId");
        request.ResponseAddress.Should().NotBeNull("and its response address, the saga's queue");
        var queued = seen.Single<AlignmentRunQueued>(runId);
        (await infrastructure.OutboxRowsAsync(runId)).Should().OnlyContain(r => r.DispatchedAt != null)
            .And.Contain(r => r.Id == queued.MessageId, "the event is published with the id it was enqueued with");
    }

    [Fact]
    public async Task A_message_handled_again_from_the_same_state_does_not_publish_its_events_twice()
    {
        var host = await infrastructure.StartHostAsync(dispatcher: false, seen);
        var bus = host.Services.GetRequiredService<IBus>();
        var runId = NewId.NextGuid();
        var messageId = NewId.NextGuid();
        var start = SagaOutboxInfrastructure.Start(runId);

        await bus.Publish(start, c => c.MessageId = messageId);
        await infrastructure.WaitForRunAsync(host, runId, r => r.CurrentState == "Pending");
        // As if the first handling's state were lost but its outbox rows kept: the redelivery runs the same transition again.
        await infrastructure.ExecuteAsync("DELETE FROM alignment_runs WHERE correlation_id = @runId", new { runId });
        await bus.Publish(start, c => c.MessageId = messageId);
        await infrastructure.WaitForRunAsync(host, runId, r => r.CurrentState == "Pending");
        // A different message (another id) for the same transition is a new publish, not a redelivery.
        await infrastructure.ExecuteAsync("DELETE FROM alignment_runs WHERE correlation_id = @runId", new { runId });
        await bus.Publish(start);
        await infrastructure.WaitForRunAsync(host, runId, r => r.CurrentState == "Pending");
        (await infrastructure.OutboxRowsAsync(runId)).Should().HaveCount(4, "the redelivery's events have the ids of the first delivery's");
        await infrastructure.StopAsync(host);

        await infrastructure.StartHostAsync(dispatcher: true, seen);
        await seen.WaitForAsync<AlignmentRunQueued>(runId);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (seen.Count<AlignmentRunQueued>(runId) < 2 && DateTime.UtcNow < deadline) await Task.Delay(50);
        await Task.Delay(1500);

        seen.Count<AlignmentRunQueued>(runId).Should().Be(2, "one per distinct message: the redelivery added nothing");
    }
}
