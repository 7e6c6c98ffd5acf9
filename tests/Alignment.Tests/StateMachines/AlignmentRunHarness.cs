using MassTransit;
using MassTransit.Testing;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Alignment.Tests.StateMachines;

/// <summary>The AlignmentRun saga on MassTransit's in-memory test harness, with helpers that drive a run to a state.</summary>
public abstract class AlignmentRunHarness : IAsyncLifetime
{
    ServiceProvider provider = null!;
    protected ITestHarness Harness = null!;
    protected ISagaStateMachineTestHarness<AlignmentRunStateMachine, AlignmentRunState> Saga = null!;
    protected AlignmentRunStateMachine Machine = null!;
    protected readonly Guid RunId = NewId.NextGuid();
    protected readonly Guid MetricId = Guid.NewGuid();
    /// <summary>Not the default workspace, so that a value the saga invents or forgets does not pass for the run's.</summary>
    protected const string Workspace = "acme";

    public async Task InitializeAsync()
    {
        provider = new ServiceCollection()
            .AddMassTransitTestHarness(x =>
            {
                x.AddSagaStateMachine<AlignmentRunStateMachine, AlignmentRunState, AlignmentRunStateDefinition>().InMemoryRepository();
            })
            .BuildServiceProvider(true);
        Harness = provider.GetRequiredService<ITestHarness>();
        Harness.TestTimeout = TimeSpan.FromSeconds(10);
        Harness.TestInactivityTimeout = TimeSpan.FromMilliseconds(500);
        await Harness.Start();
        Saga = Harness.GetSagaStateMachineHarness<AlignmentRunStateMachine, AlignmentRunState>();
        Machine = Saga.StateMachine;
    }

    public async Task DisposeAsync()
    {
        await Harness.Stop();
        await provider.DisposeAsync();
    }

    protected StartAlignmentRun StartMessage(string kind = "built_in") => new()
    {
        RunId = RunId, Workspace = Workspace, MetricId = MetricId, MetricKey = "faithfulness", MetricName = "Faithfulness", MetricKind = kind,
        MetricType = "quantitative", MetricVersion = 3, EvaluationIds = [Guid.NewGuid()], ReflectionProvider = "builtin",
        DeltaThreshold = 1, RequestedAt = DateTimeOffset.UtcNow,
    };

    protected async Task<AlignmentRunState> Send<T>(T message) where T : class
    {
        var before = Saga.Consumed.Select<T>().Count();
        await Harness.Bus.Publish(message);
        // Wait until the saga handled this very message (consumed counts only grow).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Saga.Consumed.Select<T>().Count() <= before && DateTime.UtcNow < deadline) await Task.Delay(10);
        Saga.Consumed.Select<T>().Count().Should().BeGreaterThan(before, $"the saga should consume {typeof(T).Name}");
        await Settle();
        return Run();
    }

    /// <summary>
    /// Waits until nothing new was consumed or published for a moment: the harness's own inactivity signal fires only
    /// once per harness, and the outbox releases a saga's messages just after it consumed.
    /// </summary>
    protected async Task Settle()
    {
        int Activity() => Harness.Published.Select(_ => true).Count() + Harness.Consumed.Select(_ => true).Count();
        var previous = -1;
        for (var current = Activity(); current != previous; current = Activity())
        {
            previous = current;
            await Task.Delay(200);
        }
    }

    protected AlignmentRunState Run() => Saga.Sagas.Contains(RunId) ?? throw new InvalidOperationException("The run does not exist.");

    protected int Published<T>() where T : class => Harness.Published.Select<T>().Count();

    /// <summary>The one message of type T published (the outbox may release it a moment after the saga consumed).</summary>
    protected async Task<MassTransit.Testing.IPublishedMessage<T>> PublishedOnce<T>() where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!Harness.Published.Select<T>().Any() && DateTime.UtcNow < deadline) await Task.Delay(20);
        await Settle();
        return Harness.Published.Select<T>().Should().ContainSingle().Subject;
    }

    protected async Task StartAsync(string kind = "built_in") => await Send(StartMessage(kind));

    protected async Task RunningAsync(string kind = "built_in")
    {
        await StartAsync(kind);
        await Send(new AlignmentRunExecutionStarted { RunId = RunId, Attempt = Run().Attempt, WorkerInstance = "test", StartedAt = DateTimeOffset.UtcNow });
    }

    protected AlignmentRunCompleted Completed(int disagreements = 4, int attempt = 1) => new()
    {
        RunId = RunId, Attempt = attempt, RowsLoaded = 10, Disagreements = disagreements, AgreeingRowsSkipped = 10 - disagreements,
        Statistics = new AgreementStatistics { RowCount = 10, ExactAgreement = 0.6, Categories = [], ConfusionMatrix = [] },
        GuidelinesText = "- Penalise unsupported claims.", Guidelines = [new Guideline { Text = "Penalise unsupported claims." }],
        RefinedSystemPrompt = "refined system", RefinedUserPromptTemplate = "refined {{output}}", At = DateTimeOffset.UtcNow,
    };

    protected async Task AlignedAsync(string kind = "built_in", int disagreements = 4)
    {
        await RunningAsync(kind);
        await Send(Completed(disagreements, Run().Attempt));
    }

    protected async Task ErrorAsync()
    {
        await RunningAsync();
        await Send(new AlignmentRunPhaseFailed
        {
            RunId = RunId, Attempt = Run().Attempt, Phase = RunPhase.LoadingAnnotations, Detail = "Annotations service answered 500.",
            At = DateTimeOffset.UtcNow,
        });
    }

    protected AcceptAlignmentRun Accept(bool overrideNewer = false) =>
        new() { RunId = RunId, OverrideNewerVersion = overrideNewer, ForkName = "faithfulness-aligned", RequestedAt = DateTimeOffset.UtcNow };

    protected MetricForkCreated ForkCreated(Guid newMetricId) => new()
    {
        RunId = RunId, SourceMetricId = MetricId, SourceVersion = 3, NewMetricId = newMetricId, NewMetricKey = "faithfulness-aligned",
        NewMetricName = "Faithfulness (aligned)", NewVersion = 1, CreatedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>Every event the saga knows, for "nothing applies here" checks.</summary>
    protected IEnumerable<object> EveryEvent() =>
    [
        StartMessage(),
        new CancelAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow },
        Accept(),
        new DiscardAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow },
        new RetryAlignmentRun { RunId = RunId, RequestedAt = DateTimeOffset.UtcNow },
        new AlignmentRunExecutionStarted { RunId = RunId, Attempt = Run().Attempt, WorkerInstance = "late", StartedAt = DateTimeOffset.UtcNow },
        new AlignmentRunProgressed { RunId = RunId, Attempt = Run().Attempt, Phase = RunPhase.DistillingGuidelines, RowsLoaded = 5, At = DateTimeOffset.UtcNow },
        Completed(attempt: Run().Attempt),
        new AlignmentRunPhaseFailed { RunId = RunId, Attempt = Run().Attempt, Phase = RunPhase.Finalizing, Detail = "late", At = DateTimeOffset.UtcNow },
        ForkCreated(Guid.NewGuid()),
        new MetricVersionCreated { RunId = RunId, MetricId = MetricId, MetricKey = "faithfulness", PreviousVersion = 3, NewVersion = 4, CreatedAt = DateTimeOffset.UtcNow },
        new MetricChangeRejected { RunId = RunId, MetricId = MetricId, Reason = "version_conflict", Detail = "late" },
        new AlignmentRunAcceptUnanswered { RunId = RunId, Sends = Run().AcceptSends, MaxSends = 3, Timeout = TimeSpan.FromMinutes(3), At = DateTimeOffset.UtcNow },
        new AlignmentRunStopped { RunId = RunId, Attempt = Run().Attempt, Phase = RunPhase.DistillingGuidelines, At = DateTimeOffset.UtcNow },
    ];

    protected async Task SendEach(IEnumerable<object> messages)
    {
        foreach (var message in messages)
        {
            await Harness.Bus.Publish(message, message.GetType());
            await Settle();
        }
    }
}
