using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Alignment.Worker;

namespace MetricAlignment.Alignment.Api;

/// <summary>An alignment run as the API shows it.</summary>
public sealed record AlignmentRunResponse
{
    public required Guid Id { get; init; }
    public required string Workspace { get; init; }
    /// <summary>pending, running, aligned, accepting, accepted, discarded, error or cancelled.</summary>
    public required string Status { get; init; }
    public required RunMetric Metric { get; init; }
    public required RunOptions Options { get; init; }
    public RunPhase? Phase { get; init; }
    public required RunProgress Progress { get; init; }
    public required RunCounts Counts { get; init; }
    public AgreementStatistics? Statistics { get; init; }
    public string? GuidelinesText { get; init; }
    public required IReadOnlyList<Guideline> Guidelines { get; init; }
    public RefinedPrompt? RefinedPrompt { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }
    /// <summary>Model tokens the current attempt spent, per phase and in total; null until it is aligned.</summary>
    public TokenUsage? TokenUsage { get; init; }
    /// <summary>Judge verification of the refined prompt on held-out rows; null when the run has no judge model.</summary>
    public RunVerification? Verification { get; init; }
    public RunError? Error { get; init; }
    public string? CancelReason { get; init; }
    public required int Attempt { get; init; }
    public required IReadOnlyList<AttemptRecord> Attempts { get; init; }
    public required IReadOnlyList<PhaseRecord> Phases { get; init; }
    public RunOutcome? Outcome { get; init; }
    /// <summary>Why the last accept was refused (the run stays aligned and can be accepted again).</summary>
    public RunError? AcceptRejection { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }

    public static string StatusOf(string state) => state switch
    {
        "Initial" => "pending",
        _ => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(state),
    };

    public static AlignmentRunResponse From(AlignmentRunState run) => new()
    {
        Id = run.CorrelationId,
        Workspace = run.Workspace,
        Status = StatusOf(run.CurrentState),
        Metric = new RunMetric(run.MetricId, run.MetricKey, run.MetricName, run.MetricKind, run.MetricType, run.MetricVersion),
        Options = new RunOptions(run.EvaluationIds, run.ReflectionProvider, run.ReflectionModel, run.JudgeProvider, run.JudgeModel, run.DeltaThreshold),
        Phase = run.Phase,
        Progress = new RunProgress(run.RowsLoaded, run.LastProgressAt),
        Counts = new RunCounts(run.RowsLoaded, run.Disagreements, run.AgreeingRowsSkipped, run.Guidelines.Count),
        Statistics = run.Statistics,
        GuidelinesText = run.GuidelinesText,
        Guidelines = run.Guidelines,
        RefinedPrompt = run.RefinedSystemPrompt is null ? null : new RefinedPrompt(run.RefinedSystemPrompt, run.RefinedUserPromptTemplate ?? ""),
        Warnings = run.Warnings,
        TokenUsage = run.TokenUsage,
        Verification = run.Verification,
        Error = run.ErrorDetail is null ? null : new RunError(run.ErrorPhase ?? "queued", run.ErrorDetail),
        CancelReason = run.CurrentState == "Cancelled" ? run.CancelReason : null,
        Attempt = run.Attempt,
        Attempts = run.Attempts,
        Phases = run.Phases,
        Outcome = run.Outcome is null ? null : new RunOutcome(run.Outcome, run.OutcomeMetricId, run.OutcomeMetricKey, run.OutcomeVersion, run.DecidedAt,
            run.Outcome == "discarded" ? null : run.DiscardedAt),
        AcceptRejection = run.AcceptRejectionReason is null ? null : new RunError(run.AcceptRejectionReason, run.AcceptRejectionDetail ?? ""),
        CreatedAt = run.CreatedAt,
        UpdatedAt = run.UpdatedAt,
    };
}

/// <summary>
/// A run as the history lists it: what a list row shows and what decides the actions offered on it. The agreement
/// statistics, guidelines, refined prompt, verification, token usage, warnings, attempts and phases are only on
/// GET /api/alignment-runs/{id}.
/// </summary>
public sealed record AlignmentRunSummary
{
    public required Guid Id { get; init; }
    public required string Workspace { get; init; }
    public required string Status { get; init; }
    public required RunMetric Metric { get; init; }
    public required RunOptions Options { get; init; }
    public RunPhase? Phase { get; init; }
    public required RunProgress Progress { get; init; }
    public required RunCounts Counts { get; init; }
    public RunError? Error { get; init; }
    public string? CancelReason { get; init; }
    public required int Attempt { get; init; }
    public RunOutcome? Outcome { get; init; }
    public RunError? AcceptRejection { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }

    public static AlignmentRunSummary From(AlignmentRunState run, int guidelineCount) => new()
    {
        Id = run.CorrelationId,
        Workspace = run.Workspace,
        Status = AlignmentRunResponse.StatusOf(run.CurrentState),
        Metric = new RunMetric(run.MetricId, run.MetricKey, run.MetricName, run.MetricKind, run.MetricType, run.MetricVersion),
        Options = new RunOptions(run.EvaluationIds, run.ReflectionProvider, run.ReflectionModel, run.JudgeProvider, run.JudgeModel, run.DeltaThreshold),
        Phase = run.Phase,
        Progress = new RunProgress(run.RowsLoaded, run.LastProgressAt),
        Counts = new RunCounts(run.RowsLoaded, run.Disagreements, run.AgreeingRowsSkipped, guidelineCount),
        Error = run.ErrorDetail is null ? null : new RunError(run.ErrorPhase ?? "queued", run.ErrorDetail),
        CancelReason = run.CurrentState == "Cancelled" ? run.CancelReason : null,
        Attempt = run.Attempt,
        Outcome = run.Outcome is null ? null : new RunOutcome(run.Outcome, run.OutcomeMetricId, run.OutcomeMetricKey, run.OutcomeVersion, run.DecidedAt,
            run.Outcome == "discarded" ? null : run.DiscardedAt),
        AcceptRejection = run.AcceptRejectionReason is null ? null : new RunError(run.AcceptRejectionReason, run.AcceptRejectionDetail ?? ""),
        CreatedAt = run.CreatedAt,
        UpdatedAt = run.UpdatedAt,
    };
}

public sealed record RunMetric(Guid Id, string? Key, string? Name, string? Kind, string? Type, int Version);
public sealed record RunOptions(IReadOnlyList<Guid> EvaluationIds, string? ReflectionProvider, string? ReflectionModel,
    string? JudgeProvider, string? JudgeModel, double? DeltaThreshold);
public sealed record RunProgress(int RowsLoaded, DateTimeOffset LastProgressAt);
public sealed record RunCounts(int RowsLoaded, int Disagreements, int AgreeingRowsSkipped, int Guidelines);
public sealed record RefinedPrompt(string SystemPrompt, string UserPromptTemplate);
public sealed record RunError(string Phase, string Detail);
/// <summary>
/// Decision: discarded, forked (a built-in metric's fork holds the prompt) or versioned (a custom metric's new version).
/// OverriddenDiscardAt: the run was discarded after its accept was given up, then the Metrics service's late answer showed
/// the change had been made, so the run is accepted (null otherwise).
/// </summary>
public sealed record RunOutcome(string Decision, Guid? MetricId, string? MetricKey, int? Version, DateTimeOffset? DecidedAt,
    DateTimeOffset? OverriddenDiscardAt = null);

public sealed record StartAlignmentRunRequest
{
    public Guid? MetricId { get; init; }
    public IReadOnlyList<Guid>? EvaluationIds { get; init; }
    /// <summary>Blank means the platform default, builtin.</summary>
    public string? ReflectionProvider { get; init; }
    public string? ReflectionModel { get; init; }
    public string? JudgeProvider { get; init; }
    public string? JudgeModel { get; init; }
    /// <summary>Quantitative metrics: minimum |judge - human| that counts as a disagreement. Ignored for qualitative metrics.</summary>
    public double? DeltaThreshold { get; init; }
}

public sealed record AcceptAlignmentRunRequest
{
    public bool OverrideNewerVersion { get; init; }
    public string? ForkName { get; init; }
}

public sealed record CancelResult(bool Changed, string Status, string? Reason);
