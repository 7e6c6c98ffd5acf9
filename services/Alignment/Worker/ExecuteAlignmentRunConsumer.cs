using MassTransit;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace MetricAlignment.Alignment.Worker;

/// <summary>
/// Executes one attempt of a run: load the resolved rows (streamed) into the analyzer, build the disagreement traces,
/// distil guidelines, hand the result to the saga. Every phase is safe to repeat, so a redelivery after a crash just
/// runs the attempt again. Failures become AlignmentRunPhaseFailed with the phase and a readable detail.
/// </summary>
public sealed class ExecuteAlignmentRunConsumer(
    IRunStatusReader runs,
    IMetricsClient metrics,
    IAnnotationsClient annotations,
    IReflectionEngineResolver engines,
    JudgeVerifier verifier,
    ReflectionOptions reflectionOptions,
    VerificationOptions verificationOptions,
    RunCancellations cancellations,
    IBus bus,
    IOptions<WorkerOptions> options,
    ILogger<ExecuteAlignmentRunConsumer> logger) : IConsumer<ExecuteAlignmentRun>
{
    readonly WorkerOptions settings = options.Value;

    public async Task Consume(ConsumeContext<ExecuteAlignmentRun> context)
    {
        var message = context.Message;
        using var logScope = logger.BeginScope(Telemetry.RunScope(message.RunId, message.MetricId, message.Attempt, message.Workspace));
        System.Diagnostics.Activity.Current?.SetTag(Telemetry.Tags.RunId, message.RunId).SetTag(Telemetry.Tags.Attempt, message.Attempt);
        if (!await IsStillWantedAsync(message, context.CancellationToken))
        {
            logger.LogInformation("Skipping alignment run {RunId} attempt {Attempt}: it is no longer queued or running", message.RunId, message.Attempt);
            return;
        }

        using var stop = cancellations.Register(message.RunId, context.CancellationToken);
        var progress = new Progress();
        using var heartbeatStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        var heartbeat = HeartbeatAsync(message, progress, heartbeatStop.Token);
        try
        {
            // No separate "execution started" message: the first phase's report, sent right away, starts the run in the saga.
            await ExecuteAsync(message, progress, context, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            logger.LogInformation("Alignment run {RunId} attempt {Attempt} stopped in {Phase}: cancelled", message.RunId, message.Attempt, progress.Phase);
            progress.EndPhase("cancelled");
            // What the attempt spent until it stopped goes to the cancelled run (a model call cut short costs nothing).
            if (progress.Meter?.Snapshot() is { Total.TotalTokens: > 0 } spent)
                await context.Publish(new AlignmentRunStopped
                {
                    RunId = message.RunId, Attempt = message.Attempt, Phase = progress.Phase, TokenUsage = spent, At = DateTimeOffset.UtcNow,
                }, context.CancellationToken);
        }
        catch (RunNoLongerWantedException)
        {
            logger.LogInformation("Alignment run {RunId} attempt {Attempt} stopped after {Phase}: no longer running", message.RunId, message.Attempt, progress.Phase);
            progress.EndPhase("no longer running");
        }
        catch (Exception exception) when (!context.CancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Alignment run {RunId} attempt {Attempt} failed in {Phase}", message.RunId, message.Attempt, progress.Phase);
            progress.EndPhase(exception.GetType().Name);
            await context.Publish(new AlignmentRunPhaseFailed
            {
                RunId = message.RunId, Attempt = message.Attempt, Phase = progress.Phase,
                Detail = Describe(exception), At = DateTimeOffset.UtcNow, TokenUsage = progress.Meter?.Snapshot(),
            }, context.CancellationToken);
        }
        finally
        {
            // Ends the last phase as it is, also when shutdown interrupted it (the message goes back to the queue).
            progress.EndPhase(context.CancellationToken.IsCancellationRequested ? "interrupted" : null);
            await heartbeatStop.CancelAsync();
            await heartbeat;
            cancellations.Unregister(message.RunId, stop);
        }
    }

    async Task ExecuteAsync(ExecuteAlignmentRun message, Progress progress, ConsumeContext context, CancellationToken cancellationToken)
    {
        // Consume checked the run a moment ago: the first phase is entered without asking again.
        progress.BeginPhase(RunPhase.LoadingAnnotations, message);
        progress.Phase = RunPhase.LoadingAnnotations;
        await ReportAsync(message, progress, context, cancellationToken);
        var metric = await metrics.GetMetricAsync(message.Workspace, message.MetricId, cancellationToken)
            ?? throw new DependencyFailedException($"Metric {message.MetricId} no longer exists in workspace '{message.Workspace}' of the Metrics service.");
        var engine = ResolveEngine(message.ReflectionProvider);
        var verifying = !string.IsNullOrWhiteSpace(message.JudgeModel) || !string.IsNullOrWhiteSpace(message.JudgeProvider);
        var meter = new RunTokenMeter(reflectionOptions.TokenBudgetPerRun);
        progress.Meter = meter;
        var definition = metric.ToDefinition();
        var analyzer = new DisagreementAnalyzer(definition, message.DeltaThreshold ?? 0, settings.MaxTraces);
        // The analyzer keeps only disagreements; verification also needs agreeing rows, sampled from the same stream.
        var sampler = verifying ? new VerificationSampler(definition, message.DeltaThreshold ?? 0, verificationOptions) : null;
        await foreach (var row in annotations.StreamResolvedRowsAsync(message.Workspace, message.MetricId, message.EvaluationIds, cancellationToken))
        {
            if (analyzer.RowsSeen >= settings.MaxRowsPerRun)
                throw new DependencyFailedException($"The selected evaluations hold more than {settings.MaxRowsPerRun} resolved rows for metric "
                    + $"'{metric.Key}', the most one run may load (Alignment:Worker:MaxRowsPerRun); select fewer evaluations.");
            analyzer.Add(row);
            sampler?.Add(row);
            progress.RowsLoaded = analyzer.RowsSeen;
            if (progress.RowsLoaded % settings.ProgressEveryRows == 0)
                await ReportAsync(message, progress, context, cancellationToken);
        }
        if (analyzer.RowsSeen == 0)
            throw new DependencyFailedException(
                $"The selected evaluations have no resolved annotations for metric '{metric.Key}'; resolve some annotations, then retry.");

        // No separate "all rows loaded" report: the next phase's report, sent right away, carries the final row count.
        // Each report is a saga transaction (row lock, document rewrite) and two broker hops, a large share of a short run.
        await EnterAsync(RunPhase.BuildingDisagreementTraces, message, progress, context, cancellationToken);
        var analysis = analyzer.Complete();

        await EnterAsync(RunPhase.DistillingGuidelines, message, progress, context, cancellationToken);
        DistillationResult distilled;
        RunVerification? verification = null;
        if (sampler is null)
        {
            distilled = await engine.DistillAsync(new DistillationRequest
            {
                Metric = definition, Analysis = analysis, Model = message.ReflectionModel,
            }, meter, cancellationToken);
        }
        else
        {
            // Distils on the distillation part only, then re-scores the held-out part under both prompts.
            var report = await verifier.VerifyAsync(new VerificationRequest
            {
                Metric = definition, Analysis = analysis, SampledRows = sampler.Rows(), ReflectionEngine = engine,
                ReflectionModel = message.ReflectionModel, JudgeProvider = message.JudgeProvider, JudgeModel = message.JudgeModel,
            }, meter, cancellationToken);
            distilled = report.Distillation;
            verification = RunVerification.From(report);
        }

        // Finalizing has no report of its own: the result is its only message, and the saga records the phase from the
        // time it carries. A report would cost the run one more saga transaction and two broker hops for a phase of moments.
        progress.BeginPhase(RunPhase.Finalizing, message);
        progress.Phase = RunPhase.Finalizing;
        await context.Publish(new AlignmentRunCompleted
        {
            RunId = message.RunId, Attempt = message.Attempt, RowsLoaded = analysis.RowsLoaded, Disagreements = analysis.Disagreements,
            AgreeingRowsSkipped = analysis.AgreeingRowsSkipped, Statistics = analysis.Statistics,
            GuidelinesText = distilled.GuidelinesText, Guidelines = distilled.Guidelines,
            RefinedSystemPrompt = distilled.RefinedSystemPrompt, RefinedUserPromptTemplate = distilled.RefinedUserPromptTemplate,
            Warnings = analysis.Warnings.Concat(distilled.Warnings).ToList(), TokenUsage = meter.Snapshot(), Verification = verification,
            PhasesStartedAt = progress.PhasesStartedAt, At = DateTimeOffset.UtcNow,
        }, cancellationToken);
    }

    IReflectionEngine ResolveEngine(string provider)
    {
        try
        {
            return engines.Resolve(provider);
        }
        catch (ArgumentException exception)
        {
            // The provider was configured when the run was started, but not on this instance (or no longer).
            throw new DependencyFailedException(exception.Message);
        }
    }

    /// <summary>
    /// Opens the phase's span (synchronously, so that it is the current activity for the rest of the phase, and the
    /// model calls and service calls in it are its children), then checks the run is still wanted.
    /// </summary>
    Task EnterAsync(RunPhase phase, ExecuteAlignmentRun message, Progress progress, ConsumeContext context, CancellationToken cancellationToken)
    {
        progress.BeginPhase(phase, message);
        return CheckAndReportAsync(phase, message, progress, context, cancellationToken);
    }

    /// <summary>Between phases the run may have been cancelled or failed by the sweeper (also on another instance).</summary>
    async Task CheckAndReportAsync(RunPhase phase, ExecuteAlignmentRun message, Progress progress, ConsumeContext context, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!await IsStillWantedAsync(message, cancellationToken)) throw new RunNoLongerWantedException();
        progress.Phase = phase;
        await ReportAsync(message, progress, context, cancellationToken);
    }

    async Task<bool> IsStillWantedAsync(ExecuteAlignmentRun message, CancellationToken cancellationToken)
    {
        var status = await runs.GetStatusAsync(message.RunId, cancellationToken);
        return status is { CurrentState: "Pending" or "Running" } && status.Attempt == message.Attempt;
    }

    static Task ReportAsync(ExecuteAlignmentRun message, Progress progress, IPublishEndpoint publisher, CancellationToken cancellationToken) =>
        publisher.Publish(new AlignmentRunProgressed
        {
            RunId = message.RunId, Attempt = message.Attempt, Phase = progress.Phase ?? RunPhase.LoadingAnnotations,
            RowsLoaded = progress.RowsLoaded, At = DateTimeOffset.UtcNow,
        }, cancellationToken);

    /// <summary>A long phase (a slow distiller, a large stream) still shows it is alive, so the sweeper leaves it alone.</summary>
    async Task HeartbeatAsync(ExecuteAlignmentRun message, Progress progress, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(settings.HeartbeatInterval, cancellationToken);
                if (progress.Phase is null) continue;
                await ReportAsync(message, progress, bus, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Heartbeat of alignment run {RunId} stopped", message.RunId);
        }
    }

    static string Describe(Exception exception) => exception switch
    {
        DependencyFailedException => exception.Message,
        ReflectionFailedException => exception.Message,
        _ => DependencyFailure.ForFailedRun(exception) ?? $"{exception.GetType().Name}: {exception.Message}",
    };

    sealed class Progress
    {
        public volatile int RowsLoadedValue;
        public RunPhase? Phase { get; set; }
        /// <summary>The attempt's token meter, so that a failure still reports the tokens spent before it.</summary>
        public RunTokenMeter? Meter { get; set; }
        public int RowsLoaded { get => RowsLoadedValue; set => RowsLoadedValue = value; }

        RunPhase? timedPhase;
        long phaseStarted;
        readonly Dictionary<RunPhase, DateTimeOffset> phasesStartedAt = [];

        /// <summary>When each phase of the attempt began, for the result (the saga completes the phase history from it).</summary>
        public IReadOnlyDictionary<RunPhase, DateTimeOffset> PhasesStartedAt => phasesStartedAt;
        System.Diagnostics.Activity? span;

        /// <summary>Ends the previous phase's span and timing and starts the next, under the consume span.</summary>
        public void BeginPhase(RunPhase phase, ExecuteAlignmentRun message)
        {
            EndPhase(null);
            var name = AlignmentRunStateMachine.PhaseName(phase);
            timedPhase = phase;
            phaseStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            phasesStartedAt[phase] = DateTimeOffset.UtcNow;
            span = Telemetry.ActivitySource.StartActivity("alignment.phase");
            if (span is null) return;
            span.DisplayName = $"alignment.phase {name}";
            span.SetTag(Telemetry.Tags.RunId, message.RunId);
            span.SetTag(Telemetry.Tags.MetricId, message.MetricId);
            span.SetTag(Telemetry.Tags.Phase, name);
            span.SetTag(Telemetry.Tags.Attempt, message.Attempt);
        }

        /// <summary>Records the open phase's duration; <paramref name="failure"/> marks its span as failed.</summary>
        public void EndPhase(string? failure)
        {
            if (timedPhase is { } phase)
                Telemetry.RecordPhaseDuration(AlignmentRunStateMachine.PhaseName(phase), System.Diagnostics.Stopwatch.GetElapsedTime(phaseStarted));
            timedPhase = null;
            if (span is null) return;
            if (failure is not null) span.SetStatus(System.Diagnostics.ActivityStatusCode.Error, failure);
            span.Dispose();
            span = null;
        }
    }

    sealed class RunNoLongerWantedException : Exception;
}

public sealed class ExecuteAlignmentRunConsumerDefinition : ConsumerDefinition<ExecuteAlignmentRunConsumer>
{
    readonly WorkerOptions options;

    public ExecuteAlignmentRunConsumerDefinition(IOptions<WorkerOptions> options)
    {
        this.options = options.Value;
        // Runs are long: take only as many as this instance executes, so queued runs stay available to other instances.
        ConcurrentMessageLimit = this.options.ConcurrentRuns;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ExecuteAlignmentRunConsumer> consumerConfigurator, IRegistrationContext context)
    {
        if (endpointConfigurator is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = options.ConcurrentRuns;
        // Only publishing the outcome can fail transiently here; phase failures are reported, not retried.
        endpointConfigurator.UseMessageRetry(r => r.Intervals(500, 2000, 5000));
    }
}
