using MassTransit;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.StateMachines;

/// <summary>
/// Every event of the saga in each state a run passes through on its way to a decision: where it goes and what it
/// publishes. The final states (Accepted, Discarded, Cancelled, Error) hear every event in AlignmentRunScenarios.
/// </summary>
public sealed class When_any_event_reaches_a_run_on_its_way_to_a_decision : AlignmentRunHarness
{
    static readonly string[] Nothing = [];

    /// <summary>(state the run is in, event, state it ends in, what the saga publishes in answer).</summary>
    public static readonly TheoryData<string, string, string, string[]> Transitions = new()
    {
        { "Pending", "Start", "Pending", Nothing },
        { "Pending", "Cancel", "Cancelled", [nameof(AlignmentRunCancelled)] },
        { "Pending", "AcceptRequested", "Pending", Nothing },
        { "Pending", "Discard", "Pending", Nothing },
        { "Pending", "Retry", "Pending", Nothing },
        { "Pending", "ExecutionStarted", "Running", [nameof(AlignmentRunStarted)] },
        { "Pending", "Progressed", "Running", [nameof(AlignmentRunStarted), nameof(AlignmentRunPhaseChanged)] },
        { "Pending", "Completed", "Aligned", [nameof(AlignmentRunAligned)] },
        { "Pending", "PhaseFailed", "Error", [nameof(AlignmentRunFailed)] },
        { "Pending", "ForkCreated", "Pending", Nothing },
        { "Pending", "VersionCreated", "Pending", Nothing },
        { "Pending", "ChangeRejected", "Pending", Nothing },
        { "Pending", "AcceptUnanswered", "Pending", Nothing },
        { "Pending", "Stopped", "Pending", Nothing },

        { "Running", "Start", "Running", Nothing },
        { "Running", "Cancel", "Cancelled", [nameof(AlignmentRunCancelled)] },
        { "Running", "AcceptRequested", "Running", Nothing },
        { "Running", "Discard", "Running", Nothing },
        { "Running", "Retry", "Running", Nothing },
        { "Running", "ExecutionStarted", "Running", Nothing },
        { "Running", "Progressed", "Running", [nameof(AlignmentRunPhaseChanged)] },
        { "Running", "Completed", "Aligned", [nameof(AlignmentRunAligned)] },
        { "Running", "PhaseFailed", "Error", [nameof(AlignmentRunFailed)] },
        { "Running", "ForkCreated", "Running", Nothing },
        { "Running", "VersionCreated", "Running", Nothing },
        { "Running", "ChangeRejected", "Running", Nothing },
        { "Running", "AcceptUnanswered", "Running", Nothing },
        { "Running", "Stopped", "Running", Nothing },

        { "Aligned", "Start", "Aligned", Nothing },
        { "Aligned", "Cancel", "Aligned", Nothing },
        { "Aligned", "AcceptRequested", "Accepting", [nameof(CreateMetricFork)] },
        { "Aligned", "Discard", "Discarded", [nameof(AlignmentRunDiscarded)] },
        { "Aligned", "Retry", "Aligned", Nothing },
        { "Aligned", "ExecutionStarted", "Aligned", Nothing },
        { "Aligned", "Progressed", "Aligned", Nothing },
        { "Aligned", "Completed", "Aligned", Nothing },
        { "Aligned", "PhaseFailed", "Aligned", Nothing },
        // No accept was asked for (or given up), so an answer from the Metrics service is not this run's.
        { "Aligned", "ForkCreated", "Aligned", Nothing },
        { "Aligned", "VersionCreated", "Aligned", Nothing },
        { "Aligned", "ChangeRejected", "Aligned", Nothing },
        { "Aligned", "AcceptUnanswered", "Aligned", Nothing },
        { "Aligned", "Stopped", "Aligned", Nothing },

        { "Accepting", "Start", "Accepting", Nothing },
        { "Accepting", "Cancel", "Accepting", Nothing },
        { "Accepting", "AcceptRequested", "Accepting", Nothing },
        { "Accepting", "Discard", "Accepting", Nothing },
        { "Accepting", "Retry", "Accepting", Nothing },
        { "Accepting", "ExecutionStarted", "Accepting", Nothing },
        { "Accepting", "Progressed", "Accepting", Nothing },
        { "Accepting", "Completed", "Accepting", Nothing },
        { "Accepting", "PhaseFailed", "Accepting", Nothing },
        { "Accepting", "ForkCreated", "Accepted", [nameof(MetricForked), nameof(AlignmentRunAccepted)] },
        // The table's runs align a built-in metric, so their accept asked for a fork: a version answer is not about it.
        { "Accepting", "VersionCreated", "Accepting", Nothing },
        { "Accepting", "ChangeRejected", "Aligned", Nothing },
        // The first send went unanswered and sends remain: the same request goes out again.
        { "Accepting", "AcceptUnanswered", "Accepting", [nameof(CreateMetricFork)] },
        { "Accepting", "Stopped", "Accepting", Nothing },
    };

    [Theory]
    [MemberData(nameof(Transitions))]
    public async Task The_run_ends_in_the_expected_state_having_published_exactly_the_expected_messages(
        string state, string @event, string expectedState, string[] expectedPublished)
    {
        await DriveToAsync(state);
        Run().CurrentState.Should().Be(state);
        var before = Harness.Published.Select(_ => true).ToHashSet();
        var message = EventMessage(@event);

        if (message is StartAlignmentRun start)
        {
            // Start is the one event the saga answers (the API waits for it): the answer names the state the run is in.
            var response = await Harness.GetRequestClient<StartAlignmentRun>().GetResponse<AlignmentRunStartAcknowledged>(start);
            response.Message.RunId.Should().Be(RunId);
            response.Message.Status.Should().Be(expectedState);
            await Settle();
        }
        else
        {
            await Send(message, message.GetType());
        }

        Run().CurrentState.Should().Be(expectedState);
        List<string> Published() => Harness.Published.Select(_ => true)
            .Where(p => !before.Contains(p) && p.MessageType != message.GetType())
            .Select(p => p.MessageType.Name)
            .ToList();
        // The saga's outbox hands its messages to the bus after the transition is stored, a moment after the state shows.
        var published = Published();
        for (var waiting = System.Diagnostics.Stopwatch.StartNew(); published.Count < expectedPublished.Length && waiting.Elapsed < TimeSpan.FromSeconds(10); )
        {
            await Task.Delay(50);
            published = Published();
        }
        published.Should().BeEquivalentTo(expectedPublished, "{0} in {1} should publish exactly these", @event, state);
        Harness.Published.Select<Fault>().Should().BeEmpty("no event crashes the saga");
    }

    [Fact]
    public void The_table_covers_every_event_of_the_saga_in_each_state_it_names()
    {
        var events = Machine.Events.Select(e => e.Name).ToHashSet();
        events.Should().HaveCount(14);
        foreach (var state in new[] { "Pending", "Running", "Aligned", "Accepting" })
            Transitions.Where(row => (string)row[0] == state).Select(row => (string)row[1]).Should().BeEquivalentTo(events, "in {0}", state);
        Transitions.Select(row => (string)row[2]).Should().OnlyContain(s => Machine.States.Any(known => known.Name == s));
    }

    async Task DriveToAsync(string state)
    {
        switch (state)
        {
            case "Pending": await StartAsync(); break;
            case "Running": await RunningAsync(); break;
            case "Aligned": await AlignedAsync(); break;
            case "Accepting":
                await AlignedAsync();
                await Send(Accept());
                break;
            default: throw new ArgumentOutOfRangeException(nameof(state), state, "No way to drive a run there in this table.");
        }
    }

    async Task Send(object message, Type type)
    {
        var before = Saga.Consumed.Select(m => m.MessageType == type).Count();
        await Harness.Bus.Publish(message, type);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Saga.Consumed.Select(m => m.MessageType == type).Count() <= before && DateTime.UtcNow < deadline) await Task.Delay(10);
        Saga.Consumed.Select(m => m.MessageType == type).Count().Should().BeGreaterThan(before, $"the saga should consume {type.Name}");
        await Settle();
    }

    /// <summary>The event as a worker, the API or the Metrics service would send it for this run's current attempt.</summary>
    object EventMessage(string name)
    {
        var attempt = Run().Attempt;
        var now = DateTimeOffset.UtcNow;
        return name switch
        {
            "Start" => StartMessage(),
            "Cancel" => new CancelAlignmentRun { RunId = RunId, Workspace = Workspace, RequestedAt = now },
            "AcceptRequested" => Accept(),
            "Discard" => new DiscardAlignmentRun { RunId = RunId, RequestedAt = now },
            "Retry" => new RetryAlignmentRun { RunId = RunId, RequestedAt = now },
            "ExecutionStarted" => new AlignmentRunExecutionStarted { RunId = RunId, Attempt = attempt, WorkerInstance = "table", StartedAt = now },
            "Progressed" => new AlignmentRunProgressed { RunId = RunId, Attempt = attempt, Phase = RunPhase.LoadingAnnotations, RowsLoaded = 5, At = now },
            "Completed" => Completed(attempt: attempt),
            "PhaseFailed" => new AlignmentRunPhaseFailed { RunId = RunId, Attempt = attempt, Phase = RunPhase.Finalizing, Detail = "table", At = now },
            "ForkCreated" => ForkCreated(Guid.NewGuid()),
            "VersionCreated" => new MetricVersionCreated
            {
                RunId = RunId, MetricId = MetricId, MetricKey = "faithfulness", PreviousVersion = 3, NewVersion = 4, CreatedAt = now,
            },
            "ChangeRejected" => new MetricChangeRejected { RunId = RunId, MetricId = MetricId, Reason = "version_conflict", Detail = "now at 5" },
            "AcceptUnanswered" => new AlignmentRunAcceptUnanswered
            {
                RunId = RunId, Sends = Run().AcceptSends, MaxSends = 3, Timeout = TimeSpan.FromMinutes(3), At = now,
            },
            "Stopped" => new AlignmentRunStopped
            {
                RunId = RunId, Attempt = attempt, Phase = RunPhase.DistillingGuidelines, At = now,
                TokenUsage = new MetricAlignment.Alignment.Reflection.TokenUsage { Total = new MetricAlignment.Alignment.Reflection.TokenCount { PromptTokens = 10, CompletionTokens = 2, Calls = 1 }, PerPhase = new Dictionary<string, MetricAlignment.Alignment.Reflection.TokenCount>(), Budget = 100 },
            },
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Not an event of the saga."),
        };
    }
}
