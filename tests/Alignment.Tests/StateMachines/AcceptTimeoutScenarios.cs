using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.StateMachines;

public sealed class When_the_metrics_service_does_not_answer_an_accept : AlignmentRunHarness
{
    AlignmentRunAcceptUnanswered Unanswered(int sends, int maxSends = 3) => new()
    {
        RunId = RunId, Sends = sends, MaxSends = maxSends, Timeout = TimeSpan.FromMinutes(3), At = DateTimeOffset.UtcNow,
    };

    MetricVersionCreated VersionCreated() => new()
    {
        RunId = RunId, MetricId = MetricId, MetricKey = "faithfulness", PreviousVersion = 3, NewVersion = 4, CreatedAt = DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task The_same_request_is_sent_again_until_the_limit_then_the_run_is_aligned_with_a_clear_reason()
    {
        await AlignedAsync("custom");
        await Send(Accept());
        await Send(Unanswered(sends: 1));
        await Send(Unanswered(sends: 2));

        Run().CurrentState.Should().Be("Accepting");
        Run().AcceptSends.Should().Be(3);
        var requests = Harness.Published.Select<CreateMetricVersion>().Select(p => p.Context).ToList();
        requests.Should().HaveCount(3);
        requests.Select(r => r.RequestId).Should().OnlyContain(id => id == RunId, "the Metrics service keys the change by run id");
        requests.Select(r => (r.Message.ExpectedCurrentVersion, r.Message.RequestedAt, r.Message.SystemPrompt)).Distinct()
            .Should().ContainSingle("a re-send repeats the first request exactly");

        await Send(Unanswered(sends: 3));

        var run = Run();
        run.CurrentState.Should().Be("Aligned");
        run.AcceptRejectionReason.Should().Be(AlignmentRunStateMachine.MetricsUnavailable);
        run.AcceptRejectionDetail.Should().StartWith("Accept failed: the Metrics service did not answer (3 requests");
        Published<CreateMetricVersion>().Should().Be(3);
        Published<AlignmentRunAccepted>().Should().Be(0);
    }

    [Fact]
    public async Task A_report_about_an_earlier_send_changes_nothing()
    {
        await AlignedAsync("custom");
        await Send(Accept());
        await Send(Unanswered(sends: 1));
        // A second sweeper saw the same send: the run already re-sent, so this report is stale.
        await Send(Unanswered(sends: 1));

        Run().AcceptSends.Should().Be(2);
        Run().CurrentState.Should().Be("Accepting");
        Published<CreateMetricVersion>().Should().Be(2);
    }

    [Fact]
    public async Task The_user_can_accept_again_once_it_was_given_up()
    {
        await AlignedAsync("custom");
        await Send(Accept());
        await Send(Unanswered(sends: 1, maxSends: 1));
        Run().CurrentState.Should().Be("Aligned");

        await Send(Accept());
        Run().CurrentState.Should().Be("Accepting");
        Run().AcceptRejectionReason.Should().BeNull();
        Run().AcceptSends.Should().Be(1);
        await Send(VersionCreated());

        Run().CurrentState.Should().Be("Accepted");
        Run().OutcomeVersion.Should().Be(4);
        Published<CreateMetricVersion>().Should().Be(2);
        (await PublishedOnce<MetricVersioned>()).Context.Message.NewVersion.Should().Be(4);
    }

    [Fact]
    public async Task A_late_answer_after_giving_up_accepts_the_run_once()
    {
        await AlignedAsync("built_in");
        await Send(Accept());
        await Send(Unanswered(sends: 1, maxSends: 1));
        Run().CurrentState.Should().Be("Aligned");

        var fork = Guid.NewGuid();
        await Send(ForkCreated(fork));
        await Send(ForkCreated(fork));

        Run().CurrentState.Should().Be("Accepted");
        Run().OutcomeMetricId.Should().Be(fork);
        Run().AcceptRejectionReason.Should().BeNull();
        (await PublishedOnce<MetricForked>()).Context.Message.NewMetricId.Should().Be(fork);
        await PublishedOnce<AlignmentRunAccepted>();
    }

    [Fact]
    public async Task Reports_reach_only_an_accepting_run()
    {
        await AlignedAsync("custom");
        await Send(Unanswered(sends: 0));

        Run().CurrentState.Should().Be("Aligned");
        Run().AcceptRejectionReason.Should().BeNull();
        Published<CreateMetricVersion>().Should().Be(0);
    }
}
