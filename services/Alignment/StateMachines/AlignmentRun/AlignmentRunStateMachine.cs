using MassTransit;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.StateMachines.AlignmentRun;

/// <summary>
/// The life of an alignment run: Pending -> Running (phases) -> Aligned -> Accepting -> Accepted | Discarded, with
/// Error (retry starts a new attempt) and Cancelled on the side. Every state answers every event: what does not
/// apply there is ignored, so duplicates and late worker messages change nothing.
/// An accept the Metrics service does not answer is re-sent by the sweeper's reports and finally given up: the run goes
/// back to Aligned with reason metrics_unavailable, so the user can accept again. Cancel does not apply from Aligned on:
/// an accept racing a cancel ends Accepted with one change, never Cancelled beside a version.
/// </summary>
public sealed class AlignmentRunStateMachine : MassTransitStateMachine<AlignmentRunState>
{
    public const string BuiltInKind = "built_in";
    /// <summary>The accept rejection reason when the Metrics service never answered the fork/version request.</summary>
    public const string MetricsUnavailable = "metrics_unavailable";

    public State Pending { get; private set; } = null!;
    public State Running { get; private set; } = null!;
    public State Aligned { get; private set; } = null!;
    public State Accepting { get; private set; } = null!;
    public State Accepted { get; private set; } = null!;
    public State Discarded { get; private set; } = null!;
    public State Error { get; private set; } = null!;
    public State Cancelled { get; private set; } = null!;

    public Event<StartAlignmentRun> Start { get; private set; } = null!;
    public Event<CancelAlignmentRun> Cancel { get; private set; } = null!;
    public Event<AcceptAlignmentRun> AcceptRequested { get; private set; } = null!;
    public Event<DiscardAlignmentRun> Discard { get; private set; } = null!;
    public Event<RetryAlignmentRun> Retry { get; private set; } = null!;
    public Event<AlignmentRunExecutionStarted> ExecutionStarted { get; private set; } = null!;
    public Event<AlignmentRunProgressed> Progressed { get; private set; } = null!;
    public Event<AlignmentRunCompleted> Completed { get; private set; } = null!;
    public Event<AlignmentRunPhaseFailed> PhaseFailed { get; private set; } = null!;
    public Event<AlignmentRunStopped> Stopped { get; private set; } = null!;
    public Event<MetricForkCreated> ForkCreated { get; private set; } = null!;
    public Event<MetricVersionCreated> VersionCreated { get; private set; } = null!;
    public Event<MetricChangeRejected> ChangeRejected { get; private set; } = null!;
    public Event<AlignmentRunAcceptUnanswered> AcceptUnanswered { get; private set; } = null!;

    public AlignmentRunStateMachine()
    {
        InstanceState(x => x.CurrentState);

        // Start and Cancel may create the run: inserting first makes concurrent duplicates queue behind the row lock.
        Event(() => Start, e => { e.CorrelateById(c => c.Message.RunId); e.InsertOnInitial = true; });
        Event(() => Cancel, e => { e.CorrelateById(c => c.Message.RunId); e.InsertOnInitial = true; });
        // Anything else about a run that does not exist is stale or misaddressed: drop it.
        Event(() => AcceptRequested, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Discard, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Retry, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => ExecutionStarted, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Progressed, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Completed, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => PhaseFailed, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Stopped, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => ForkCreated, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => VersionCreated, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => ChangeRejected, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => AcceptUnanswered, e => { e.CorrelateById(c => c.Message.RunId); e.OnMissingInstance(m => m.Discard()); });

        Initially(
            When(Start)
                .Then(c => ApplyOptions(c.Saga, c.Message))
                .Then(c => BeginAttempt(c.Saga, Now()))
                .TransitionTo(Pending)
                .ThenAsync(QueueAttempt)
                .ThenAsync(Acknowledge),
            // A cancel that overtakes its start leaves a cancelled tombstone; the start then finds it and queues nothing.
            // Its workspace is the cancel's; a cancel that names none (a sender from before 2.1) leaves the workspace
            // unknown rather than filing the run under the default one, and the cancellation is announced once the start
            // brings the run's workspace (see the Cancelled state).
            When(Cancel)
                .Then(c =>
                {
                    c.Saga.CreatedAt = c.Saga.UpdatedAt = c.Saga.LastProgressAt = Now();
                    c.Saga.Workspace = string.IsNullOrWhiteSpace(c.Message.Workspace) ? AlignmentRunState.UnknownWorkspace : c.Message.Workspace.Trim();
                    c.Saga.CancelReason = c.Message.Reason ?? "cancelled before the run was queued";
                })
                .TransitionTo(Cancelled)
                .If(c => c.Saga.Workspace != AlignmentRunState.UnknownWorkspace, announce => announce.ThenAsync(PublishCancelled)));

        During(Pending,
            When(Start).ThenAsync(Acknowledge),
            When(Cancel).Then(c => EndAttempt(c.Saga, "cancelled", c.Message.Reason)).TransitionTo(Cancelled).ThenAsync(PublishCancelled),
            Ignore(AcceptRequested), Ignore(Discard), Ignore(Retry),
            // Sent only by workers of earlier versions; a current worker's first progress report starts the run.
            When(ExecutionStarted).If(c => c.Message.Attempt == c.Saga.Attempt, b => b
                .Then(c => MarkStarted(c.Saga, c.Message.StartedAt)).TransitionTo(Running).ThenAsync(PublishStarted)),
            When(Progressed).If(c => c.Message.Attempt == c.Saga.Attempt, b => b
                .Then(c => MarkStarted(c.Saga, c.Message.At)).TransitionTo(Running).ThenAsync(PublishStarted).ThenAsync(ApplyProgress)),
            When(Completed).If(c => c.Message.Attempt == c.Saga.Attempt, b => b
                .Then(c => MarkStarted(c.Saga, c.Message.At)).ThenAsync(EnterFinalizing).Then(ApplyResult).TransitionTo(Aligned).ThenAsync(PublishAligned)),
            When(PhaseFailed).If(c => c.Message.Attempt == c.Saga.Attempt, b => b
                .Then(ApplyFailure).TransitionTo(Error).ThenAsync(PublishFailed)),
            Ignore(ForkCreated), Ignore(VersionCreated), Ignore(ChangeRejected), Ignore(AcceptUnanswered), Ignore(Stopped));

        During(Running,
            When(Start).ThenAsync(Acknowledge),
            When(Cancel).Then(c => EndAttempt(c.Saga, "cancelled", c.Message.Reason)).TransitionTo(Cancelled).ThenAsync(PublishCancelled),
            Ignore(AcceptRequested), Ignore(Discard), Ignore(Retry),
            // A redelivered ExecuteAlignmentRun resumed elsewhere: a sign of life, nothing more.
            When(ExecutionStarted).If(c => c.Message.Attempt == c.Saga.Attempt, b => b.Then(c => Touch(c.Saga, c.Message.StartedAt))),
            When(Progressed).If(c => c.Message.Attempt == c.Saga.Attempt, b => b.ThenAsync(ApplyProgress)),
            When(Completed).If(c => c.Message.Attempt == c.Saga.Attempt, b => b
                .ThenAsync(EnterFinalizing).Then(ApplyResult).TransitionTo(Aligned).ThenAsync(PublishAligned)),
            When(PhaseFailed).If(c => c.Message.Attempt == c.Saga.Attempt, b => b
                .Then(ApplyFailure).TransitionTo(Error).ThenAsync(PublishFailed)),
            Ignore(ForkCreated), Ignore(VersionCreated), Ignore(ChangeRejected), Ignore(AcceptUnanswered), Ignore(Stopped));

        During(Aligned,
            When(Start).ThenAsync(Acknowledge),
            Ignore(Cancel),
            When(AcceptRequested).IfElse(c => c.Saga.Disagreements > 0,
                accept => accept
                    .Then(c =>
                    {
                        c.Saga.AcceptOverrideNewerVersion = c.Message.OverrideNewerVersion;
                        c.Saga.ForkName = c.Message.ForkName;
                        c.Saga.AcceptRejectionReason = c.Saga.AcceptRejectionDetail = null;
                        c.Saga.AcceptRequestedAt = c.Message.RequestedAt;
                        c.Saga.AcceptSends = 1;
                        c.Saga.UpdatedAt = Now();
                    })
                    .TransitionTo(Accepting)
                    .ThenAsync(RequestMetricChange),
                nothing => nothing.Then(c =>
                {
                    c.Saga.AcceptRejectionReason = "no_disagreements";
                    c.Saga.AcceptRejectionDetail = "The run found no disagreements, so there is nothing to adopt.";
                })),
            When(Discard)
                .Then(c => { c.Saga.Outcome = "discarded"; c.Saga.DecidedAt = c.Saga.DiscardedAt = c.Saga.UpdatedAt = Now(); })
                .TransitionTo(Discarded)
                .ThenAsync(c => c.Publish(new AlignmentRunDiscarded
                {
                    RunId = c.Saga.CorrelationId, Workspace = c.Saga.Workspace, MetricId = c.Saga.MetricId, MetricKey = c.Saga.MetricKey!,
                    MetricVersion = c.Saga.MetricVersion, DiscardedAt = c.Saga.DecidedAt!.Value,
                })),
            Ignore(Retry), Ignore(ExecutionStarted), Ignore(Progressed), Ignore(Completed), Ignore(PhaseFailed),
            Ignore(ChangeRejected), Ignore(AcceptUnanswered), Ignore(Stopped));
        // The Metrics service answering after the accept was given up on: the run is accepted after all rather than left
        // aligned beside a version it created.
        During(Aligned, LateAnswerToAGivenUpAccept());

        During(Accepting,
            When(Start).ThenAsync(Acknowledge),
            Ignore(Cancel), Ignore(AcceptRequested), Ignore(Discard), Ignore(Retry),
            Ignore(ExecutionStarted), Ignore(Progressed), Ignore(Completed), Ignore(PhaseFailed), Ignore(Stopped),
            // Only the answer to the request this run sent (a fork for a built-in metric, a version for a custom one)
            // accepts it; the other kind cannot be about this run's change, and is left alone.
            When(ForkCreated).If(AskedForAFork, fork => fork
                .Then(c => RecordOutcome(c.Saga, "forked", c.Message.NewMetricId, c.Message.NewMetricKey, c.Message.NewVersion, c.Message.CreatedAt))
                .TransitionTo(Accepted)
                .ThenAsync(PublishForked)),
            When(VersionCreated).If(c => !AskedForAFork(c), version => version
                .Then(c => RecordOutcome(c.Saga, "versioned", c.Message.MetricId, c.Message.MetricKey, c.Message.NewVersion, c.Message.CreatedAt))
                .TransitionTo(Accepted)
                .ThenAsync(PublishVersioned)),
            When(ChangeRejected)
                .Then(c =>
                {
                    c.Saga.AcceptRejectionReason = c.Message.Reason;
                    c.Saga.AcceptRejectionDetail = c.Message.Detail;
                    c.Saga.UpdatedAt = Now();
                })
                .TransitionTo(Aligned),
            // Only the report about the latest send counts: duplicates from several sweepers must not use up the sends.
            When(AcceptUnanswered).If(c => c.Message.Sends == c.Saga.AcceptSends, unanswered => unanswered
                .IfElse(c => c.Saga.AcceptSends < c.Message.MaxSends,
                    resend => resend
                        .Then(c => { c.Saga.AcceptSends++; c.Saga.UpdatedAt = Now(); })
                        .ThenAsync(RequestMetricChange),
                    giveUp => giveUp
                        .Then(c =>
                        {
                            // Back to Aligned rather than Error: the run's result is intact and the user can accept it again.
                            c.Saga.AcceptRejectionReason = MetricsUnavailable;
                            c.Saga.AcceptRejectionDetail =
                                $"Accept failed: the Metrics service did not answer ({c.Saga.AcceptSends} requests, each given {c.Message.Timeout}). " +
                                "Nothing was changed that this run knows of; accept again once the Metrics service is back. " +
                                "A repeated accept cannot create a second version or fork, and if the Metrics service answers late the run becomes accepted by itself.";
                            c.Saga.UpdatedAt = Now();
                        })
                        .TransitionTo(Aligned))));

        foreach (var finished in new[] { Accepted, Cancelled })
        {
            During(finished,
                When(Start).IfElse(c => c.Saga.MetricId == Guid.Empty && c.Saga.Workspace == AlignmentRunState.UnknownWorkspace,
                    // The tombstone of a cancel that named no workspace: the start says whose run it is, so the
                    // cancellation nobody was told of yet is announced now, in the run's workspace.
                    unannounced => unannounced.Then(c => ApplyOptions(c.Saga, c.Message)).ThenAsync(PublishCancelled),
                    known => known.Then(c => { if (c.Saga.MetricId == Guid.Empty) ApplyOptions(c.Saga, c.Message); }))
                    .ThenAsync(Acknowledge),
                Ignore(Cancel), Ignore(AcceptRequested), Ignore(Discard), Ignore(Retry),
                Ignore(ExecutionStarted), Ignore(Progressed), Ignore(Completed), Ignore(PhaseFailed),
                Ignore(ForkCreated), Ignore(VersionCreated), Ignore(ChangeRejected), Ignore(AcceptUnanswered));
        }

        During(Accepted, Ignore(Stopped));
        // The worker of a cancelled run reports what it spent before it stopped: paid for, so kept on the run, once.
        During(Cancelled,
            When(Stopped).If(c => c.Message.Attempt == c.Saga.Attempt && c.Saga.TokenUsage is null && c.Message.TokenUsage is not null, spent => spent
                .Then(c => { c.Saga.TokenUsage = c.Message.TokenUsage; c.Saga.UpdatedAt = Now(); })));

        // A discard after an accept was given up (Aligned with metrics_unavailable) was decided without knowing that the
        // Metrics service had in fact made the change. When its late answer arrives, the version or fork exists and carries
        // this run's prompt, and versions are immutable: the run is recorded as accepted (DiscardedAt keeps the overridden
        // discard) and the change is announced once, like any accept. A run discarded without a given-up accept never
        // asked for a change, so an answer about it changes nothing.
        During(Discarded,
            When(Start).ThenAsync(Acknowledge),
            Ignore(Cancel), Ignore(AcceptRequested), Ignore(Discard), Ignore(Retry),
            Ignore(ExecutionStarted), Ignore(Progressed), Ignore(Completed), Ignore(PhaseFailed),
            Ignore(ChangeRejected), Ignore(AcceptUnanswered), Ignore(Stopped));
        During(Discarded, LateAnswerToAGivenUpAccept());

        During(Error,
            When(Start).ThenAsync(Acknowledge),
            Ignore(Cancel), Ignore(AcceptRequested), Ignore(Discard),
            When(Retry)
                .Then(c => BeginAttempt(c.Saga, Now()))
                .TransitionTo(Pending)
                .ThenAsync(QueueAttempt),
            Ignore(ExecutionStarted), Ignore(Progressed), Ignore(Completed), Ignore(PhaseFailed),
            Ignore(ForkCreated), Ignore(VersionCreated), Ignore(ChangeRejected), Ignore(AcceptUnanswered), Ignore(Stopped));
    }

    static DateTimeOffset Now() => DateTimeOffset.UtcNow;

    static void ApplyOptions(AlignmentRunState run, StartAlignmentRun message)
    {
        run.Workspace = message.Workspace;
        run.MetricId = message.MetricId;
        run.MetricKey = message.MetricKey;
        run.MetricName = message.MetricName;
        run.MetricKind = message.MetricKind;
        run.MetricType = message.MetricType;
        run.MetricVersion = message.MetricVersion;
        run.EvaluationIds = message.EvaluationIds.ToList();
        run.ReflectionProvider = message.ReflectionProvider;
        run.ReflectionModel = message.ReflectionModel;
        run.JudgeProvider = message.JudgeProvider;
        run.JudgeModel = message.JudgeModel;
        run.DeltaThreshold = message.DeltaThreshold;
        if (run.CreatedAt == default) run.CreatedAt = Now();
        run.TraceParent ??= RunTrace.CurrentParent();
    }

    /// <summary>A fresh attempt: the previous attempt's progress and result are cleared (its record stays in Attempts).</summary>
    static void BeginAttempt(AlignmentRunState run, DateTimeOffset at)
    {
        run.Attempt++;
        run.Attempts.Add(new AttemptRecord { Attempt = run.Attempt, QueuedAt = at });
        run.Phase = null;
        run.RowsLoaded = run.Disagreements = run.AgreeingRowsSkipped = 0;
        run.Statistics = null;
        run.GuidelinesText = run.RefinedSystemPrompt = run.RefinedUserPromptTemplate = null;
        run.Guidelines = [];
        run.Warnings = [];
        run.TokenUsage = null;
        run.Verification = null;
        run.ErrorPhase = run.ErrorDetail = null;
        run.UpdatedAt = run.LastProgressAt = at;
    }

    static AttemptRecord? CurrentAttempt(AlignmentRunState run) => run.Attempts.LastOrDefault(a => a.Attempt == run.Attempt);

    static void Touch(AlignmentRunState run, DateTimeOffset at)
    {
        var now = Now();
        run.UpdatedAt = now;
        run.LastProgressAt = at > run.LastProgressAt ? at : run.LastProgressAt;
    }

    static void MarkStarted(AlignmentRunState run, DateTimeOffset at)
    {
        if (CurrentAttempt(run) is { StartedAt: null } attempt) attempt.StartedAt = at;
        Touch(run, at);
    }

    static void RecordOvertakenPhase(AlignmentRunState run, RunPhase phase, DateTimeOffset startedAt)
    {
        var attempt = run.Phases.Where(p => p.Attempt == run.Attempt).ToList();
        if (attempt.Any(p => p.Phase == phase)) return;
        var next = attempt.Where(p => p.Phase > phase).MinBy(p => p.Phase);
        if (next is null) return;
        var before = attempt.Where(p => p.Phase < phase).MaxBy(p => p.Phase);
        // The phase ran between the one before it and the one after it: it ends where the next began.
        if (before is { EndedAt: { } ended } && ended > startedAt) before.EndedAt = startedAt;
        run.Phases.Insert(run.Phases.IndexOf(next), new PhaseRecord
        {
            Attempt = run.Attempt, Phase = phase, StartedAt = startedAt < next.StartedAt ? startedAt : next.StartedAt, EndedAt = next.StartedAt,
        });
    }

    static void ClosePhase(AlignmentRunState run, DateTimeOffset at)
    {
        foreach (var open in run.Phases.Where(p => p.Attempt == run.Attempt && p.EndedAt is null)) open.EndedAt = at;
    }

    static void EndAttempt(AlignmentRunState run, string result, string? cancelReason = null)
    {
        var now = Now();
        ClosePhase(run, now);
        if (CurrentAttempt(run) is { } attempt)
        {
            attempt.EndedAt = now;
            attempt.Result = result;
            attempt.ErrorPhase = run.ErrorPhase;
            attempt.ErrorDetail = run.ErrorDetail;
        }
        if (result == "cancelled") run.CancelReason = cancelReason ?? "cancelled by request";
        run.UpdatedAt = now;
    }

    static Task ApplyProgress(BehaviorContext<AlignmentRunState, AlignmentRunProgressed> c)
    {
        Touch(c.Saga, c.Message.At);
        return EnterPhase(c, c.Message.Phase, c.Message.RowsLoaded, c.Message.At);
    }

    /// <summary>
    /// Completes the attempt's phase history from the phase start times the result carries, in phase order: Finalizing
    /// has no report of its own, and a report sent just before the result may reach the saga after it (then it is ignored
    /// in Aligned). Each phase not yet recorded is entered with its PhaseChanged event, or put in place if a later one
    /// is already there. A result from a worker of an earlier version, which reported every phase, carries no times.
    /// </summary>
    static async Task EnterFinalizing(BehaviorContext<AlignmentRunState, AlignmentRunCompleted> c)
    {
        if (c.Message.PhasesStartedAt is not { } started) return;
        foreach (var (phase, at) in started.OrderBy(p => p.Key))
            await EnterPhase(c, phase, c.Message.RowsLoaded, at);
    }

    static async Task EnterPhase<T>(BehaviorContext<AlignmentRunState, T> c, RunPhase phase, int rowsLoaded, DateTimeOffset at) where T : class
    {
        var run = c.Saga;
        run.RowsLoaded = Math.Max(run.RowsLoaded, rowsLoaded);
        if (run.Phase == phase) return;
        // Phases only move forward. An older report overtaken by a newer one (a retried delivery can be passed by the next
        // report) does not move the run back, but a phase it never recorded still goes into the run's history, in place.
        if (run.Phase is { } current && current > phase)
        {
            RecordOvertakenPhase(run, phase, at);
            return;
        }
        var previous = run.Phase;
        ClosePhase(run, at);
        run.Phase = phase;
        run.Phases.Add(new PhaseRecord { Attempt = run.Attempt, Phase = phase, StartedAt = at });
        await c.Publish(new AlignmentRunPhaseChanged
        {
            RunId = run.CorrelationId, Workspace = run.Workspace, MetricId = run.MetricId, MetricKey = run.MetricKey!, Attempt = run.Attempt,
            Phase = PhaseName(phase), PreviousPhase = previous is { } p ? PhaseName(p) : null,
            RowsLoaded = run.RowsLoaded, ChangedAt = at,
        });
    }

    static void ApplyResult(BehaviorContext<AlignmentRunState, AlignmentRunCompleted> c)
    {
        var run = c.Saga;
        var result = c.Message;
        run.RowsLoaded = result.RowsLoaded;
        run.Disagreements = result.Disagreements;
        run.AgreeingRowsSkipped = result.AgreeingRowsSkipped;
        run.Statistics = result.Statistics;
        run.GuidelinesText = result.GuidelinesText;
        run.Guidelines = result.Guidelines.ToList();
        run.RefinedSystemPrompt = result.RefinedSystemPrompt;
        run.RefinedUserPromptTemplate = result.RefinedUserPromptTemplate;
        run.Warnings = result.Warnings.ToList();
        run.TokenUsage = result.TokenUsage;
        run.Verification = result.Verification;
        Touch(run, result.At);
        EndAttempt(run, "aligned");
    }

    static void ApplyFailure(BehaviorContext<AlignmentRunState, AlignmentRunPhaseFailed> c)
    {
        var run = c.Saga;
        run.ErrorPhase = c.Message.Phase is { } phase ? PhaseName(phase) : "queued";
        run.ErrorDetail = c.Message.Detail;
        // Tokens spent before the failure were paid for: the run shows them like an aligned run's.
        run.TokenUsage = c.Message.TokenUsage;
        EndAttempt(run, "error");
    }

    /// <summary>
    /// The Metrics service answering after the accept was given up on (Aligned again, or Discarded since): the change it
    /// reports was made for this run and versions are immutable, so the run is accepted after all and the change announced
    /// once. Without a given-up accept the run never asked for a change, and an answer about it changes nothing.
    /// </summary>
    EventActivities<AlignmentRunState>[] LateAnswerToAGivenUpAccept() =>
    [
        When(ForkCreated).If(c => c.Saga.AcceptRejectionReason == MetricsUnavailable && AskedForAFork(c), late => late
            .Then(c => c.Saga.AcceptRejectionReason = c.Saga.AcceptRejectionDetail = null)
            .Then(c => RecordOutcome(c.Saga, "forked", c.Message.NewMetricId, c.Message.NewMetricKey, c.Message.NewVersion, c.Message.CreatedAt))
            .TransitionTo(Accepted)
            .ThenAsync(PublishForked)),
        When(VersionCreated).If(c => c.Saga.AcceptRejectionReason == MetricsUnavailable && !AskedForAFork(c), late => late
            .Then(c => c.Saga.AcceptRejectionReason = c.Saga.AcceptRejectionDetail = null)
            .Then(c => RecordOutcome(c.Saga, "versioned", c.Message.MetricId, c.Message.MetricKey, c.Message.NewVersion, c.Message.CreatedAt))
            .TransitionTo(Accepted)
            .ThenAsync(PublishVersioned)),
    ];

    /// <summary>Accepting a built-in metric forks it (CreateMetricFork); a custom one gets a version (CreateMetricVersion).</summary>
    static bool AskedForAFork<T>(BehaviorContext<AlignmentRunState, T> c) where T : class => c.Saga.MetricKind == BuiltInKind;

    static void RecordOutcome(AlignmentRunState run, string outcome, Guid metricId, string metricKey, int version, DateTimeOffset at)
    {
        run.Outcome = outcome;
        run.OutcomeMetricId = metricId;
        run.OutcomeMetricKey = metricKey;
        run.OutcomeVersion = version;
        run.DecidedAt = at;
        run.UpdatedAt = Now();
    }

    public static string PhaseName(RunPhase phase) => phase switch
    {
        RunPhase.LoadingAnnotations => "loading_annotations",
        RunPhase.BuildingDisagreementTraces => "building_disagreement_traces",
        RunPhase.DistillingGuidelines => "distilling_guidelines",
        RunPhase.Finalizing => "finalizing",
        _ => phase.ToString(),
    };

    static async Task QueueAttempt<T>(BehaviorContext<AlignmentRunState, T> c) where T : class
    {
        var run = c.Saga;
        await c.Publish(new AlignmentRunQueued
        {
            RunId = run.CorrelationId, Workspace = run.Workspace, MetricId = run.MetricId, MetricKey = run.MetricKey!, MetricVersion = run.MetricVersion,
            EvaluationIds = run.EvaluationIds, ReflectionProvider = run.ReflectionProvider!, ReflectionModel = run.ReflectionModel,
            DeltaThreshold = run.DeltaThreshold, Attempt = run.Attempt, QueuedAt = run.LastProgressAt,
        });
        await c.Publish(new ExecuteAlignmentRun
        {
            RunId = run.CorrelationId, Workspace = run.Workspace, Attempt = run.Attempt, MetricId = run.MetricId, EvaluationIds = run.EvaluationIds,
            ReflectionProvider = run.ReflectionProvider!, ReflectionModel = run.ReflectionModel, JudgeProvider = run.JudgeProvider,
            JudgeModel = run.JudgeModel, DeltaThreshold = run.DeltaThreshold,
        });
    }

    /// <summary>The API waits for this (request/response) so that the run is readable once it answers 202.</summary>
    static async Task Acknowledge(BehaviorContext<AlignmentRunState, StartAlignmentRun> c)
    {
        if (c.RequestId is null || c.ResponseAddress is null) return;
        await c.RespondAsync(new AlignmentRunStartAcknowledged { RunId = c.Saga.CorrelationId, Status = c.Saga.CurrentState });
    }

    static Task PublishStarted<T>(BehaviorContext<AlignmentRunState, T> c) where T : class =>
        c.Publish(new AlignmentRunStarted
        {
            RunId = c.Saga.CorrelationId, Workspace = c.Saga.Workspace, MetricId = c.Saga.MetricId, MetricKey = c.Saga.MetricKey!, Attempt = c.Saga.Attempt,
            StartedAt = CurrentAttempt(c.Saga)?.StartedAt ?? Now(),
        });

    static Task PublishAligned(BehaviorContext<AlignmentRunState, AlignmentRunCompleted> c) =>
        c.Publish(new AlignmentRunAligned
        {
            RunId = c.Saga.CorrelationId, Workspace = c.Saga.Workspace, MetricId = c.Saga.MetricId, MetricKey = c.Saga.MetricKey!, MetricVersion = c.Saga.MetricVersion,
            Attempt = c.Saga.Attempt, RowsLoaded = c.Saga.RowsLoaded, Disagreements = c.Saga.Disagreements,
            AgreeingRowsSkipped = c.Saga.AgreeingRowsSkipped, GuidelineCount = c.Saga.Guidelines.Count,
            ExactAgreement = c.Saga.Statistics?.ExactAgreement ?? 0, AlignedAt = c.Message.At,
            TotalTokens = c.Saga.TokenUsage?.Total.TotalTokens,
            TokensPerPhase = c.Saga.TokenUsage?.PerPhase.ToDictionary(p => p.Key, p => p.Value.TotalTokens, StringComparer.Ordinal),
            PromptTokens = c.Saga.TokenUsage?.Total.PromptTokens,
            CompletionTokens = c.Saga.TokenUsage?.Total.CompletionTokens,
            PromptTokensPerPhase = c.Saga.TokenUsage?.PerPhase.ToDictionary(p => p.Key, p => p.Value.PromptTokens, StringComparer.Ordinal),
            CompletionTokensPerPhase = c.Saga.TokenUsage?.PerPhase.ToDictionary(p => p.Key, p => p.Value.CompletionTokens, StringComparer.Ordinal),
            VerificationImproved = c.Saga.Verification?.Improved,
            VerificationSummary = c.Saga.Verification?.Summary,
        });

    static Task PublishFailed(BehaviorContext<AlignmentRunState, AlignmentRunPhaseFailed> c) =>
        c.Publish(new AlignmentRunFailed
        {
            RunId = c.Saga.CorrelationId, Workspace = c.Saga.Workspace, MetricId = c.Saga.MetricId, MetricKey = c.Saga.MetricKey!, Attempt = c.Saga.Attempt,
            Phase = c.Saga.ErrorPhase!, Detail = c.Saga.ErrorDetail!, FailedAt = c.Message.At,
            TotalTokens = c.Saga.TokenUsage?.Total.TotalTokens,
            PromptTokens = c.Saga.TokenUsage?.Total.PromptTokens,
            CompletionTokens = c.Saga.TokenUsage?.Total.CompletionTokens,
            TokensPerPhase = c.Saga.TokenUsage?.PerPhase.ToDictionary(p => p.Key, p => p.Value.TotalTokens, StringComparer.Ordinal),
            PromptTokensPerPhase = c.Saga.TokenUsage?.PerPhase.ToDictionary(p => p.Key, p => p.Value.PromptTokens, StringComparer.Ordinal),
            CompletionTokensPerPhase = c.Saga.TokenUsage?.PerPhase.ToDictionary(p => p.Key, p => p.Value.CompletionTokens, StringComparer.Ordinal),
        });

    static Task PublishCancelled<T>(BehaviorContext<AlignmentRunState, T> c) where T : class =>
        c.Publish(new AlignmentRunCancelled
        {
            RunId = c.Saga.CorrelationId, Workspace = c.Saga.Workspace, MetricId = c.Saga.MetricId, MetricKey = c.Saga.MetricKey, Attempt = c.Saga.Attempt,
            Phase = c.Saga.Phase is { } phase ? PhaseName(phase) : null, Reason = c.Saga.CancelReason, CancelledAt = c.Saga.UpdatedAt,
        });

    static async Task PublishForked(BehaviorContext<AlignmentRunState, MetricForkCreated> c)
    {
        await c.Publish(new MetricForked
        {
            RunId = c.Saga.CorrelationId, Workspace = c.Saga.Workspace, SourceMetricId = c.Saga.MetricId, SourceMetricKey = c.Saga.MetricKey!,
            SourceVersion = c.Message.SourceVersion, NewMetricId = c.Message.NewMetricId, NewMetricKey = c.Message.NewMetricKey,
            NewMetricName = c.Message.NewMetricName, NewVersion = c.Message.NewVersion, ForkedAt = c.Message.CreatedAt,
        });
        await PublishAccepted(c.Saga, c, forked: true);
    }

    static async Task PublishVersioned(BehaviorContext<AlignmentRunState, MetricVersionCreated> c)
    {
        await c.Publish(new MetricVersioned
        {
            RunId = c.Saga.CorrelationId, Workspace = c.Saga.Workspace, MetricId = c.Message.MetricId, MetricKey = c.Message.MetricKey,
            PreviousVersion = c.Message.PreviousVersion, NewVersion = c.Message.NewVersion,
            AlignedVersion = c.Saga.MetricVersion, VersionedAt = c.Message.CreatedAt,
        });
        await PublishAccepted(c.Saga, c, forked: false);
    }

    static Task PublishAccepted<T>(AlignmentRunState run, BehaviorContext<AlignmentRunState, T> c, bool forked) where T : class =>
        c.Publish(new AlignmentRunAccepted
        {
            RunId = run.CorrelationId, Workspace = run.Workspace, MetricId = run.MetricId, MetricKey = run.MetricKey!, FromVersion = run.MetricVersion,
            Forked = forked, NewMetricId = run.OutcomeMetricId!.Value, NewMetricKey = run.OutcomeMetricKey!,
            NewVersion = run.OutcomeVersion!.Value, Disagreements = run.Disagreements, GuidelineCount = run.Guidelines.Count,
            AcceptedAt = run.DecidedAt!.Value,
        });

    /// <summary>
    /// A request to the Metrics service: RequestId is the run id and the response comes back to this saga's queue,
    /// where it is correlated by the RunId every response carries. The Metrics service keys its work by run id, so a
    /// repeated request gets the first answer again.
    /// </summary>
    static async Task RequestMetricChange<T>(BehaviorContext<AlignmentRunState, T> c) where T : class
    {
        var run = c.Saga;
        // A re-send repeats the first request exactly, so the Metrics service sees one change however often it arrives.
        var requestedAt = run.AcceptRequestedAt ?? Now();
        var note = $"Aligned by run {run.CorrelationId}: {run.Disagreements} disagreements over {run.RowsLoaded} rows, {run.Guidelines.Count} guidelines.";
        void AsRequest(SendContext context)
        {
            context.RequestId = run.CorrelationId;
            context.ResponseAddress = c.ReceiveContext.InputAddress;
        }
        if (run.MetricKind == BuiltInKind)
        {
            await c.Publish<CreateMetricFork>(new CreateMetricFork
            {
                RunId = run.CorrelationId, Workspace = run.Workspace, MetricId = run.MetricId, BaseVersion = run.MetricVersion, Name = run.ForkName,
                SystemPrompt = run.RefinedSystemPrompt!, UserPromptTemplate = run.RefinedUserPromptTemplate!, ChangeNote = note,
                RequestedAt = requestedAt,
            }, AsRequest);
        }
        else
        {
            await c.Publish<CreateMetricVersion>(new CreateMetricVersion
            {
                RunId = run.CorrelationId, Workspace = run.Workspace, MetricId = run.MetricId, ExpectedCurrentVersion = run.MetricVersion,
                OverrideNewerVersion = run.AcceptOverrideNewerVersion, SystemPrompt = run.RefinedSystemPrompt!,
                UserPromptTemplate = run.RefinedUserPromptTemplate!, ChangeNote = note, RequestedAt = requestedAt,
            }, AsRequest);
        }
    }
}
