using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.StateMachines;

public sealed class When_a_cancel_naming_its_workspace_overtakes_the_start : AlignmentRunHarness
{
    [Fact]
    public async Task The_cancelled_run_and_its_event_belong_to_the_cancels_workspace()
    {
        await Send(new CancelAlignmentRun { RunId = RunId, Workspace = Workspace, Reason = "not needed", RequestedAt = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Cancelled");
        Run().Workspace.Should().Be(Workspace);
        var cancelled = (await PublishedOnce<AlignmentRunCancelled>()).Context.Message;
        cancelled.Workspace.Should().Be(Workspace);
        cancelled.Reason.Should().Be("not needed");
    }

    [Fact]
    public async Task The_late_start_is_acknowledged_without_queueing_or_a_second_cancellation()
    {
        await Send(new CancelAlignmentRun { RunId = RunId, Workspace = Workspace, RequestedAt = DateTimeOffset.UtcNow });
        await Send(StartMessage());

        Run().CurrentState.Should().Be("Cancelled");
        Run().MetricId.Should().Be(MetricId);
        Published<AlignmentRunCancelled>().Should().Be(1);
        Published<ExecuteAlignmentRun>().Should().Be(0);
    }
}

public sealed class When_a_cancel_without_workspace_overtakes_the_start : AlignmentRunHarness
{
    [Fact]
    public async Task No_workspace_is_invented_and_nothing_is_published_yet()
    {
        await Send(new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Cancelled");
        Run().Workspace.Should().Be(AlignmentRunState.UnknownWorkspace, "no caller's workspace may see a run nobody has claimed");
        Run().Workspace.Should().NotBe(AlignmentRunState.DefaultWorkspace);
        Published<AlignmentRunCancelled>().Should().Be(0);
    }

    [Fact]
    public async Task The_start_names_the_workspace_and_the_cancellation_is_announced_once_in_it()
    {
        await Send(new CancelAlignmentRun { RunId = RunId, Reason = "not needed", RequestedAt = DateTimeOffset.UtcNow });
        await Send(StartMessage());
        await Send(StartMessage());

        Run().CurrentState.Should().Be("Cancelled");
        Run().Workspace.Should().Be(Workspace);
        var cancelled = (await PublishedOnce<AlignmentRunCancelled>()).Context.Message;
        cancelled.Workspace.Should().Be(Workspace);
        cancelled.MetricId.Should().Be(MetricId, "the start brought the metric as well");
        cancelled.Reason.Should().Be("not needed");
        Published<ExecuteAlignmentRun>().Should().Be(0);
        Published<AlignmentRunQueued>().Should().Be(0);
    }
}

public sealed class When_a_running_run_is_cancelled_with_another_workspace : AlignmentRunHarness
{
    [Fact]
    public async Task The_event_keeps_the_runs_own_workspace()
    {
        await RunningAsync();
        await Send(new CancelAlignmentRun { RunId = RunId, Workspace = "globex", RequestedAt = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Cancelled");
        (await PublishedOnce<AlignmentRunCancelled>()).Context.Message.Workspace.Should().Be(Workspace);
    }
}
