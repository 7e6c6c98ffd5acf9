using MetricAlignment.Alignment.Api;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.StateMachines;

/// <summary>
/// An accept the Metrics service did not answer is given up (back to Aligned, metrics_unavailable); the user then
/// discards the run; and then the Metrics service answers: it did make the change.
/// </summary>
public sealed class When_the_metrics_service_answers_a_given_up_accept_after_the_discard : AlignmentRunHarness
{
    AlignmentRunAcceptUnanswered GiveUp() => new()
    {
        RunId = RunId, Sends = 1, MaxSends = 1, Timeout = TimeSpan.FromMinutes(3), At = DateTimeOffset.UtcNow,
    };

    MetricVersionCreated VersionCreated() => new()
    {
        RunId = RunId, MetricId = MetricId, MetricKey = "faithfulness", PreviousVersion = 3, NewVersion = 4, CreatedAt = DateTimeOffset.UtcNow,
    };

    async Task DiscardedAfterGivingUpAsync(string kind)
    {
        await AlignedAsync(kind);
        await Send(Accept());
        await Send(GiveUp());
        Run().AcceptRejectionReason.Should().Be(AlignmentRunStateMachine.MetricsUnavailable);
        await Send(new DiscardAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        Run().CurrentState.Should().Be("Discarded");
    }

    [Fact]
    public async Task The_version_it_made_is_recorded_and_the_run_is_accepted_once()
    {
        await DiscardedAfterGivingUpAsync("custom");

        await Send(VersionCreated());
        await Send(VersionCreated());

        var run = Run();
        run.CurrentState.Should().Be("Accepted");
        run.Outcome.Should().Be("versioned");
        run.OutcomeVersion.Should().Be(4);
        run.DiscardedAt.Should().NotBeNull("the overridden discard stays on the run's record");
        run.AcceptRejectionReason.Should().BeNull();
        var versioned = (await PublishedOnce<MetricVersioned>()).Context.Message;
        versioned.NewVersion.Should().Be(4);
        versioned.Workspace.Should().Be(Workspace);
        (await PublishedOnce<AlignmentRunAccepted>()).Context.Message.NewVersion.Should().Be(4);
        (await PublishedOnce<AlignmentRunDiscarded>()).Context.Message.RunId.Should().Be(RunId, "the discard that happened is not unpublished");
    }

    [Fact]
    public async Task The_fork_it_made_is_recorded_and_the_run_is_accepted_once()
    {
        await DiscardedAfterGivingUpAsync("built_in");
        var fork = Guid.NewGuid();

        await Send(ForkCreated(fork));
        await Send(ForkCreated(fork));

        Run().CurrentState.Should().Be("Accepted");
        Run().Outcome.Should().Be("forked");
        Run().OutcomeMetricId.Should().Be(fork);
        (await PublishedOnce<MetricForked>()).Context.Message.NewMetricId.Should().Be(fork);
        await PublishedOnce<AlignmentRunAccepted>();
    }

    [Fact]
    public async Task The_response_shows_the_accepted_outcome_and_when_the_discard_was_overridden()
    {
        await DiscardedAfterGivingUpAsync("custom");
        await Send(VersionCreated());

        var outcome = AlignmentRunResponse.From(Run()).Outcome!;
        outcome.Decision.Should().Be("versioned");
        outcome.Version.Should().Be(4);
        outcome.OverriddenDiscardAt.Should().Be(Run().DiscardedAt);
    }
}

public sealed class When_a_run_discarded_without_an_accept_hears_from_the_metrics_service : AlignmentRunHarness
{
    [Fact]
    public async Task A_stray_answer_changes_nothing_and_publishes_nothing()
    {
        await AlignedAsync("custom");
        await Send(new DiscardAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });

        await Send(new MetricVersionCreated
        {
            RunId = RunId, MetricId = MetricId, MetricKey = "faithfulness", PreviousVersion = 3, NewVersion = 4, CreatedAt = DateTimeOffset.UtcNow,
        });

        Run().CurrentState.Should().Be("Discarded");
        Run().Outcome.Should().Be("discarded");
        AlignmentRunResponse.From(Run()).Outcome!.OverriddenDiscardAt.Should().BeNull();
        Published<MetricVersioned>().Should().Be(0);
        Published<AlignmentRunAccepted>().Should().Be(0);
    }
}
