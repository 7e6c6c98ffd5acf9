using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.StateMachines;

/// <summary>Everything the saga publishes about a run names the run's workspace, whichever way the run goes.</summary>
public sealed class Every_message_the_saga_publishes_for_a_run : AlignmentRunHarness
{
    /// <summary>
    /// Every published message that has a Workspace names the run's, and each expected type was published (so the check
    /// is not vacuous). Messages the test itself publishes pass too: StartAlignmentRun names the run's workspace.
    /// </summary>
    async Task ShouldAllCarryTheRunsWorkspace(params Type[] expected)
    {
        await Settle();
        var withWorkspace = Harness.Published.Select(_ => true)
            .Select(m => m.MessageObject)
            .Select(m => (Type: m.GetType(), Workspace: m.GetType().GetProperty("Workspace")?.GetValue(m)))
            .Where(m => m.Type.GetProperty("Workspace") is not null)
            .ToList();

        withWorkspace.Select(m => m.Type).Should().Contain(expected);
        withWorkspace.Should().OnlyContain(m => Equals(m.Workspace, Workspace),
            "every message the saga publishes about the run names its workspace, never another or none");
        Run().Workspace.Should().Be(Workspace);
    }

    [Fact]
    public async Task Carries_its_workspace_when_it_is_aligned_and_forked()
    {
        await RunningAsync("built_in");
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.LoadingAnnotations, RowsLoaded = 3, At = DateTimeOffset.UtcNow });
        await Send(Completed());
        await Send(Accept());
        await Send(ForkCreated(Guid.NewGuid()));

        Run().CurrentState.Should().Be("Accepted");
        await ShouldAllCarryTheRunsWorkspace(typeof(AlignmentRunQueued), typeof(ExecuteAlignmentRun), typeof(AlignmentRunStarted),
            typeof(AlignmentRunPhaseChanged), typeof(AlignmentRunAligned), typeof(CreateMetricFork), typeof(MetricForked), typeof(AlignmentRunAccepted));
    }

    [Fact]
    public async Task Carries_its_workspace_when_a_custom_metric_is_versioned()
    {
        await AlignedAsync("custom");
        await Send(Accept());
        await Send(new MetricVersionCreated
        {
            RunId = RunId, MetricId = MetricId, MetricKey = "faithfulness", PreviousVersion = 3, NewVersion = 4, CreatedAt = DateTimeOffset.UtcNow,
        });

        Run().CurrentState.Should().Be("Accepted");
        await ShouldAllCarryTheRunsWorkspace(typeof(CreateMetricVersion), typeof(MetricVersioned), typeof(AlignmentRunAccepted));
    }

    [Fact]
    public async Task Carries_its_workspace_when_it_fails_is_retried_and_cancelled()
    {
        await ErrorAsync();
        await Send(new RetryAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await Send(new CancelAlignmentRun { RunId = RunId, Workspace = Workspace, RequestedAt = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Cancelled");
        Published<AlignmentRunQueued>().Should().Be(2);
        await ShouldAllCarryTheRunsWorkspace(typeof(AlignmentRunFailed), typeof(AlignmentRunQueued), typeof(ExecuteAlignmentRun), typeof(AlignmentRunCancelled));
    }

    [Fact]
    public async Task Carries_its_workspace_when_it_is_discarded()
    {
        await AlignedAsync();
        await Send(new DiscardAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Discarded");
        await ShouldAllCarryTheRunsWorkspace(typeof(AlignmentRunAligned), typeof(AlignmentRunDiscarded));
    }
}

public sealed class When_an_aligned_run_is_accepted_in_a_workspace : AlignmentRunHarness
{
    [Fact]
    public async Task The_fork_command_names_the_runs_workspace()
    {
        await AlignedAsync("built_in");
        await Send(Accept());

        (await PublishedOnce<CreateMetricFork>()).Context.Message.Workspace.Should().Be(Workspace);
    }

    [Fact]
    public async Task The_version_command_names_the_runs_workspace()
    {
        await AlignedAsync("custom");
        await Send(Accept());

        (await PublishedOnce<CreateMetricVersion>()).Context.Message.Workspace.Should().Be(Workspace);
    }
}
