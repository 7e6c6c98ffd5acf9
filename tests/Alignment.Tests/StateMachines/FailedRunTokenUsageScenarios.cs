using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.StateMachines;

public sealed class When_a_phase_fails_after_model_calls : AlignmentRunHarness
{
    static TokenUsage Spent() => new()
    {
        Total = new TokenCount { PromptTokens = 2400, CompletionTokens = 300, Calls = 2 },
        PerPhase = new Dictionary<string, TokenCount>
        {
            ["reflection.batch"] = new() { PromptTokens = 2400, CompletionTokens = 300, Calls = 2 },
        },
        Budget = 5000,
    };

    [Fact]
    public async Task The_run_keeps_the_tokens_spent_and_its_failed_event_carries_them_per_phase()
    {
        await RunningAsync();
        await Send(new AlignmentRunPhaseFailed
        {
            RunId = RunId, Attempt = 1, Phase = RunPhase.DistillingGuidelines, Detail = "The run's token budget of 5,000 tokens would be exceeded",
            At = DateTimeOffset.UtcNow, TokenUsage = Spent(),
        });

        Run().CurrentState.Should().Be("Error");
        Run().TokenUsage.Should().BeEquivalentTo(Spent());
        var failed = (await PublishedOnce<AlignmentRunFailed>()).Context.Message;
        failed.TotalTokens.Should().Be(2700);
        failed.PromptTokens.Should().Be(2400);
        failed.CompletionTokens.Should().Be(300);
        failed.TokensPerPhase.Should().Equal(new Dictionary<string, long> { ["reflection.batch"] = 2700 });
        failed.PromptTokensPerPhase.Should().Equal(new Dictionary<string, long> { ["reflection.batch"] = 2400 });
        failed.CompletionTokensPerPhase.Should().Equal(new Dictionary<string, long> { ["reflection.batch"] = 300 });
    }

    [Fact]
    public async Task A_retry_starts_the_new_attempt_without_the_failed_attempts_tokens()
    {
        await RunningAsync();
        await Send(new AlignmentRunPhaseFailed
        {
            RunId = RunId, Attempt = 1, Phase = RunPhase.DistillingGuidelines, Detail = "model refused", At = DateTimeOffset.UtcNow, TokenUsage = Spent(),
        });

        await Send(new RetryAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });

        Run().Attempt.Should().Be(2);
        Run().TokenUsage.Should().BeNull();
    }
}

public sealed class When_the_worker_of_a_cancelled_run_reports_what_it_spent : AlignmentRunHarness
{
    static TokenUsage Spent(int calls) => new()
    {
        Total = new TokenCount { PromptTokens = 1200 * calls, CompletionTokens = 150 * calls, Calls = calls },
        PerPhase = new Dictionary<string, TokenCount>
        {
            ["reflection.batch"] = new() { PromptTokens = 1200 * calls, CompletionTokens = 150 * calls, Calls = calls },
        },
        Budget = 150_000,
    };

    AlignmentRunStopped Stopped(int attempt, int calls) => new()
    {
        RunId = RunId, Attempt = attempt, Phase = RunPhase.DistillingGuidelines, TokenUsage = Spent(calls), At = DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task The_cancelled_run_keeps_the_tokens_once_and_announces_nothing_more()
    {
        await RunningAsync();
        await Send(new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await PublishedOnce<AlignmentRunCancelled>();

        await Send(Stopped(attempt: 1, calls: 3));
        await Send(Stopped(attempt: 1, calls: 5));

        Run().CurrentState.Should().Be("Cancelled");
        Run().TokenUsage.Should().BeEquivalentTo(Spent(3), "the first report of the attempt is kept; a repeat changes nothing");
        Published<AlignmentRunCancelled>().Should().Be(1);
    }

    [Fact]
    public async Task A_report_about_another_attempt_or_a_run_that_is_not_cancelled_changes_nothing()
    {
        await RunningAsync();
        await Send(Stopped(attempt: 1, calls: 2));
        Run().CurrentState.Should().Be("Running");
        Run().TokenUsage.Should().BeNull("a running run's tokens come with its result");

        await Send(new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow });
        await Send(Stopped(attempt: 7, calls: 2));

        Run().TokenUsage.Should().BeNull();
    }
}

public sealed class When_the_sweeper_fails_a_stalled_run : AlignmentRunHarness
{
    [Fact]
    public async Task The_failed_event_leaves_the_unknown_token_counts_out()
    {
        await RunningAsync();
        await Send(new AlignmentRunPhaseFailed
        {
            RunId = RunId, Attempt = 1, Phase = RunPhase.LoadingAnnotations, Detail = "The worker stopped responding", At = DateTimeOffset.UtcNow,
        });

        Run().TokenUsage.Should().BeNull();
        var failed = (await PublishedOnce<AlignmentRunFailed>()).Context.Message;
        failed.TotalTokens.Should().BeNull();
        failed.PromptTokens.Should().BeNull();
        failed.TokensPerPhase.Should().BeNull();
    }
}
