using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.StateMachines;

public sealed class When_a_run_is_started : AlignmentRunHarness
{
    [Fact]
    public async Task It_is_pending_and_queued_for_a_worker_once_even_when_started_twice()
    {
        await StartAsync();
        await Send(StartMessage());

        Run().CurrentState.Should().Be(nameof(Machine.Pending));
        Run().Attempt.Should().Be(1);
        await PublishedOnce<AlignmentRunQueued>();
        await PublishedOnce<ExecuteAlignmentRun>();
    }

    [Fact]
    public async Task Accept_discard_retry_and_metric_answers_change_nothing_while_pending()
    {
        await StartAsync();
        await SendEach([Accept(), new DiscardAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow },
            new RetryAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow }, ForkCreated(Guid.NewGuid())]);

        Run().CurrentState.Should().Be("Pending");
        Published<CreateMetricFork>().Should().Be(0);
        Published<AlignmentRunDiscarded>().Should().Be(0);
    }
}

public sealed class When_a_worker_reports_progress : AlignmentRunHarness
{
    [Fact]
    public async Task The_run_goes_running_and_records_each_phase_once_with_start_and_end_times()
    {
        await StartAsync();
        foreach (var phase in new[] { RunPhase.LoadingAnnotations, RunPhase.LoadingAnnotations, RunPhase.BuildingDisagreementTraces })
            await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = phase, RowsLoaded = 42, At = DateTimeOffset.UtcNow });

        var run = Run();
        run.CurrentState.Should().Be("Running");
        run.Phase.Should().Be(RunPhase.BuildingDisagreementTraces);
        run.RowsLoaded.Should().Be(42);
        run.Phases.Select(p => p.Phase).Should().Equal(RunPhase.LoadingAnnotations, RunPhase.BuildingDisagreementTraces);
        run.Phases[0].EndedAt.Should().NotBeNull();
        run.Phases[1].EndedAt.Should().BeNull();
        await PublishedOnce<AlignmentRunStarted>();
        Published<AlignmentRunPhaseChanged>().Should().Be(2);
    }

    [Fact]
    public async Task A_phase_report_overtaken_by_the_next_one_still_enters_the_history_in_place_without_moving_the_run_back()
    {
        await StartAsync();
        var t0 = DateTimeOffset.UtcNow;
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.LoadingAnnotations, RowsLoaded = 5, At = t0 });
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.DistillingGuidelines, RowsLoaded = 5, At = t0.AddSeconds(2) });
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.BuildingDisagreementTraces, RowsLoaded = 5, At = t0.AddSeconds(1) });

        var run = Run();
        run.Phase.Should().Be(RunPhase.DistillingGuidelines);
        run.Phases.Select(p => p.Phase).Should().Equal(
            RunPhase.LoadingAnnotations, RunPhase.BuildingDisagreementTraces, RunPhase.DistillingGuidelines);
        run.Phases[0].EndedAt.Should().Be(t0.AddSeconds(1));
        run.Phases[1].StartedAt.Should().Be(t0.AddSeconds(1));
        run.Phases[1].EndedAt.Should().Be(t0.AddSeconds(2));
        run.Phases[2].EndedAt.Should().BeNull();
        Published<AlignmentRunPhaseChanged>().Should().Be(2, "the overtaken report changes no current phase, so it is not announced");
    }

    [Fact]
    public async Task Reports_of_another_attempt_are_ignored()
    {
        await StartAsync();
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 7, Phase = RunPhase.Finalizing, RowsLoaded = 1, At = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Pending");
        Run().Phase.Should().BeNull();
    }
}

public sealed class When_a_run_completes : AlignmentRunHarness
{
    [Fact]
    public async Task It_is_aligned_with_the_result_stored_and_announced()
    {
        await AlignedAsync();

        var run = Run();
        run.CurrentState.Should().Be("Aligned");
        run.Disagreements.Should().Be(4);
        run.RefinedSystemPrompt.Should().Be("refined system");
        run.Statistics!.ExactAgreement.Should().Be(0.6);
        run.Attempts.Single().Result.Should().Be("aligned");
        (await PublishedOnce<AlignmentRunAligned>()).Context.Message.Disagreements.Should().Be(4);
    }

    [Fact]
    public async Task A_result_carrying_its_finalizing_time_records_the_finalizing_phase_and_announces_it_before_the_alignment()
    {
        await StartAsync();
        var t0 = DateTimeOffset.UtcNow;
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.DistillingGuidelines, RowsLoaded = 10, At = t0 });
        await Send(Completed() with
        {
            PhasesStartedAt = new Dictionary<RunPhase, DateTimeOffset> { [RunPhase.DistillingGuidelines] = t0, [RunPhase.Finalizing] = t0.AddSeconds(1) },
            At = t0.AddSeconds(2),
        });

        var run = Run();
        run.CurrentState.Should().Be("Aligned");
        run.Phases.Select(p => p.Phase).Should().Equal(RunPhase.DistillingGuidelines, RunPhase.Finalizing);
        run.Phases[0].EndedAt.Should().Be(t0.AddSeconds(1), "distilling ended when finalizing began");
        run.Phases[1].StartedAt.Should().Be(t0.AddSeconds(1));
        run.Phases[1].EndedAt.Should().NotBeNull();
        await PublishedOnce<AlignmentRunAligned>();
        var changes = Harness.Published.Select<AlignmentRunPhaseChanged>().Select(m => m.Context.Message).ToList();
        changes.Select(c => c.Phase).Should().Equal("distilling_guidelines", "finalizing");
        changes[1].PreviousPhase.Should().Be("distilling_guidelines");
        changes[1].RowsLoaded.Should().Be(10);
    }

    [Fact]
    public async Task A_result_that_overtook_the_last_phase_report_still_records_every_phase_in_order_and_announces_each_once()
    {
        await StartAsync();
        var t0 = DateTimeOffset.UtcNow;
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.LoadingAnnotations, RowsLoaded = 10, At = t0 });
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.BuildingDisagreementTraces, RowsLoaded = 10, At = t0.AddSeconds(1) });
        // The distilling report is still on its way when the result arrives.
        await Send(Completed() with
        {
            PhasesStartedAt = new Dictionary<RunPhase, DateTimeOffset>
            {
                [RunPhase.LoadingAnnotations] = t0, [RunPhase.BuildingDisagreementTraces] = t0.AddSeconds(1),
                [RunPhase.DistillingGuidelines] = t0.AddSeconds(2), [RunPhase.Finalizing] = t0.AddSeconds(3),
            },
        });
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.DistillingGuidelines, RowsLoaded = 10, At = t0.AddSeconds(2) });

        var run = Run();
        run.CurrentState.Should().Be("Aligned");
        run.Phases.Select(p => p.Phase).Should().Equal(
            RunPhase.LoadingAnnotations, RunPhase.BuildingDisagreementTraces, RunPhase.DistillingGuidelines, RunPhase.Finalizing);
        run.Phases[2].StartedAt.Should().Be(t0.AddSeconds(2));
        run.Phases[2].EndedAt.Should().Be(t0.AddSeconds(3));
        await PublishedOnce<AlignmentRunAligned>();
        Harness.Published.Select<AlignmentRunPhaseChanged>().Select(m => m.Context.Message.Phase).Should()
            .Equal("loading_annotations", "building_disagreement_traces", "distilling_guidelines", "finalizing");
    }

    [Fact]
    public async Task A_result_from_an_earlier_worker_that_reported_finalizing_itself_records_the_phase_once()
    {
        await StartAsync();
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.Finalizing, RowsLoaded = 10, At = DateTimeOffset.UtcNow });
        await Send(Completed());

        Run().CurrentState.Should().Be("Aligned");
        Run().Phases.Select(p => p.Phase).Should().Equal(RunPhase.Finalizing);
        Published<AlignmentRunPhaseChanged>().Should().Be(1);
    }
}

public sealed class When_a_phase_fails : AlignmentRunHarness
{
    [Fact]
    public async Task The_run_is_in_error_with_the_phase_and_detail()
    {
        await RunningAsync();
        await Send(new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.DistillingGuidelines, RowsLoaded = 3, At = DateTimeOffset.UtcNow });
        await Send(new AlignmentRunPhaseFailed { RunId = RunId, Attempt = 1, Phase = RunPhase.DistillingGuidelines, Detail = "engine broke", At = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Error");
        Run().ErrorPhase.Should().Be("distilling_guidelines");
        Run().ErrorDetail.Should().Be("engine broke");
        (await PublishedOnce<AlignmentRunFailed>()).Context.Message.Phase.Should().Be("distilling_guidelines");
    }
}

public sealed class When_a_failed_run_is_retried : AlignmentRunHarness
{
    [Fact]
    public async Task A_new_attempt_is_queued_and_the_first_stays_in_the_history()
    {
        await ErrorAsync();
        await Send(new RetryAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });

        var run = Run();
        run.CurrentState.Should().Be("Pending");
        run.Attempt.Should().Be(2);
        run.ErrorDetail.Should().BeNull();
        run.Attempts.Should().HaveCount(2);
        run.Attempts[0].Result.Should().Be("error");
        run.Attempts[0].ErrorPhase.Should().Be("loading_annotations");
        Harness.Published.Select<ExecuteAlignmentRun>().Select(m => m.Context.Message.Attempt).Should().Equal(1, 2);
    }

    [Fact]
    public async Task A_late_result_of_the_failed_attempt_does_not_align_the_new_one()
    {
        await ErrorAsync();
        await Send(new RetryAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await Send(Completed(attempt: 1));

        Run().CurrentState.Should().Be("Pending");
        Published<AlignmentRunAligned>().Should().Be(0);
    }

    [Fact]
    public async Task Nothing_but_retry_moves_a_failed_run()
    {
        await ErrorAsync();
        await SendEach(EveryEvent().Where(e => e is not RetryAlignmentRun));

        Run().CurrentState.Should().Be("Error");
        Published<AlignmentRunCancelled>().Should().Be(0);
    }
}

public sealed class When_a_run_is_cancelled_while_running : AlignmentRunHarness
{
    [Fact]
    public async Task It_is_cancelled_once_and_late_worker_results_are_ignored()
    {
        await RunningAsync();
        await Send(new CancelAlignmentRun { RunId = RunId, Reason = "changed my mind", RequestedAt = DateTimeOffset.UtcNow });
        await Send(new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await Send(Completed());

        Run().CurrentState.Should().Be("Cancelled");
        Run().CancelReason.Should().Be("changed my mind");
        Run().Attempts.Single().Result.Should().Be("cancelled");
        await PublishedOnce<AlignmentRunCancelled>();
        Published<AlignmentRunAligned>().Should().Be(0);
    }
}

public sealed class When_a_run_is_cancelled_while_pending : AlignmentRunHarness
{
    [Fact]
    public async Task It_is_cancelled_and_a_late_worker_start_does_not_revive_it()
    {
        await StartAsync();
        await Send(new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await Send(new AlignmentRunExecutionStarted { RunId = RunId, Attempt = 1, WorkerInstance = "late", StartedAt = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Cancelled");
        Published<AlignmentRunStarted>().Should().Be(0);
    }
}

public sealed class When_a_cancel_overtakes_its_start : AlignmentRunHarness
{
    [Fact]
    public async Task The_run_stays_cancelled_and_is_never_queued()
    {
        await Send(new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await Send(StartMessage());

        Run().CurrentState.Should().Be("Cancelled");
        Run().MetricId.Should().Be(MetricId, "the late start still records what the run was about");
        Published<ExecuteAlignmentRun>().Should().Be(0);
    }
}

public sealed class When_an_aligned_built_in_metric_run_is_accepted : AlignmentRunHarness
{
    [Fact]
    public async Task It_asks_for_a_fork_and_announces_it_exactly_once()
    {
        await AlignedAsync("built_in");
        await Send(Accept());
        await Send(Accept());

        Run().CurrentState.Should().Be("Accepting");
        var request = (await PublishedOnce<CreateMetricFork>()).Context;
        request.Message.BaseVersion.Should().Be(3);
        request.Message.SystemPrompt.Should().Be("refined system");
        request.Message.Name.Should().Be("faithfulness-aligned");
        request.RequestId.Should().Be(RunId);

        var fork = Guid.NewGuid();
        await Send(ForkCreated(fork));
        await Send(ForkCreated(fork));

        Run().CurrentState.Should().Be("Accepted");
        Run().OutcomeMetricId.Should().Be(fork);
        Run().Outcome.Should().Be("forked");
        (await PublishedOnce<MetricForked>()).Context.Message.NewMetricId.Should().Be(fork);
        (await PublishedOnce<AlignmentRunAccepted>()).Context.Message.Forked.Should().BeTrue();
    }

    [Fact]
    public async Task Nothing_changes_an_accepted_run()
    {
        await AlignedAsync("built_in");
        await Send(Accept());
        await Send(ForkCreated(Guid.NewGuid()));
        await SendEach(EveryEvent());

        Run().CurrentState.Should().Be("Accepted");
        await PublishedOnce<MetricForked>();
        await PublishedOnce<AlignmentRunAccepted>();
    }
}

public sealed class When_an_aligned_custom_metric_run_is_accepted : AlignmentRunHarness
{
    [Fact]
    public async Task It_asks_for_a_version_expecting_the_version_the_run_started_from()
    {
        await AlignedAsync("custom");
        await Send(Accept(overrideNewer: true));

        var request = (await PublishedOnce<CreateMetricVersion>()).Context.Message;
        request.ExpectedCurrentVersion.Should().Be(3);
        request.OverrideNewerVersion.Should().BeTrue();

        await Send(new MetricVersionCreated { RunId = RunId, MetricId = MetricId, MetricKey = "faithfulness", PreviousVersion = 5, NewVersion = 6, CreatedAt = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Accepted");
        Run().OutcomeVersion.Should().Be(6);
        var versioned = (await PublishedOnce<MetricVersioned>()).Context.Message;
        versioned.PreviousVersion.Should().Be(5);
        versioned.AlignedVersion.Should().Be(3);
    }

    [Fact]
    public async Task A_fork_answer_to_its_version_request_changes_nothing_and_the_version_answer_still_accepts_it()
    {
        await AlignedAsync("custom");
        await Send(Accept());
        await Send(ForkCreated(Guid.NewGuid()));

        Run().CurrentState.Should().Be("Accepting", "the run asked for a version, so a fork cannot be its change");
        Run().Outcome.Should().BeNull();
        Published<MetricForked>().Should().Be(0);

        await Send(new MetricVersionCreated { RunId = RunId, MetricId = MetricId, MetricKey = "faithfulness", PreviousVersion = 3, NewVersion = 4, CreatedAt = DateTimeOffset.UtcNow });

        Run().CurrentState.Should().Be("Accepted");
        Run().Outcome.Should().Be("versioned");
        (await PublishedOnce<AlignmentRunAccepted>()).Context.Message.Forked.Should().BeFalse();
    }

    [Fact]
    public async Task A_refusal_returns_it_to_aligned_with_the_reason()
    {
        await AlignedAsync("custom");
        await Send(Accept());
        await Send(new MetricChangeRejected { RunId = RunId, MetricId = MetricId, Reason = "version_conflict", Detail = "now at 5", CurrentVersion = 5, ExpectedVersion = 3 });

        Run().CurrentState.Should().Be("Aligned");
        Run().AcceptRejectionReason.Should().Be("version_conflict");
        Published<AlignmentRunAccepted>().Should().Be(0);
    }
}

public sealed class When_a_run_without_disagreements_is_accepted : AlignmentRunHarness
{
    [Fact]
    public async Task It_stays_aligned_and_nothing_is_asked_of_the_metrics_service()
    {
        await AlignedAsync(disagreements: 0);
        await Send(Accept());

        Run().CurrentState.Should().Be("Aligned");
        Run().AcceptRejectionReason.Should().Be("no_disagreements");
        Published<CreateMetricFork>().Should().Be(0);
    }
}

public sealed class When_an_aligned_run_is_discarded : AlignmentRunHarness
{
    [Fact]
    public async Task It_is_discarded_once_and_can_no_longer_be_accepted()
    {
        await AlignedAsync();
        await Send(new DiscardAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await SendEach(EveryEvent());

        Run().CurrentState.Should().Be("Discarded");
        Run().Outcome.Should().Be("discarded");
        await PublishedOnce<AlignmentRunDiscarded>();
        Published<CreateMetricFork>().Should().Be(0);
    }
}

public sealed class When_an_aligned_run_hears_stale_messages : AlignmentRunHarness
{
    [Fact]
    public async Task Cancel_retry_and_late_worker_messages_leave_it_aligned()
    {
        await AlignedAsync();
        await SendEach([
            new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow },
            new RetryAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow },
            new AlignmentRunPhaseFailed { RunId = RunId, Attempt = 1, Phase = RunPhase.Finalizing, Detail = "late", At = DateTimeOffset.UtcNow },
            new AlignmentRunProgressed { RunId = RunId, Attempt = 1, Phase = RunPhase.LoadingAnnotations, RowsLoaded = 1, At = DateTimeOffset.UtcNow },
            ForkCreated(Guid.NewGuid()),
        ]);

        Run().CurrentState.Should().Be("Aligned");
        Published<AlignmentRunCancelled>().Should().Be(0);
        Published<AlignmentRunAccepted>().Should().Be(0);
    }
}

public sealed class When_a_cancelled_run_hears_anything : AlignmentRunHarness
{
    [Fact]
    public async Task It_stays_cancelled()
    {
        await RunningAsync();
        await Send(new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await SendEach(EveryEvent());

        Run().CurrentState.Should().Be("Cancelled");
        await PublishedOnce<AlignmentRunCancelled>();
    }
}

public sealed class When_messages_arrive_for_an_unknown_run : AlignmentRunHarness
{
    [Fact]
    public async Task They_are_dropped_without_creating_a_run()
    {
        await SendEach([Accept(), new RetryAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow }, Completed(), ForkCreated(Guid.NewGuid())]);

        Saga.Sagas.Contains(RunId).Should().BeNull();
        Harness.Published.Select<MassTransit.Fault>().Should().BeEmpty();
    }
}
