using MassTransit;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.Worker;

namespace MetricAlignment.Alignment.StateMachines.AlignmentRun;

/// <summary>
/// One alignment run: its options, the current attempt's progress and result, the attempt history and the outcome.
/// Persisted as a jsonb document plus the columns that queries filter on (see Persistence/AlignmentRunStore).
/// </summary>
public sealed class AlignmentRunState : SagaStateMachineInstance, ISagaVersion
{
    /// <summary>Where data from before workspaces lives (see Migrations/0003_alignment_runs_workspace.sql).</summary>
    public const string DefaultWorkspace = "default";
    /// <summary>
    /// The workspace of a tombstone left by a cancel that named none and overtook its start: no caller's workspace, so the
    /// run is nobody's until the start says whose it is.
    /// </summary>
    public const string UnknownWorkspace = "";

    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "Initial";
    public int Version { get; set; }

    /// <summary>
    /// The workspace the run belongs to: only its callers see it, and its events and metric changes name it. Runs stored
    /// before workspaces existed (no key in their document) belong to the default workspace.
    /// </summary>
    public string Workspace { get; set; } = DefaultWorkspace;

    public Guid MetricId { get; set; }
    public string? MetricKey { get; set; }
    public string? MetricName { get; set; }
    public string? MetricKind { get; set; }
    public string? MetricType { get; set; }
    public int MetricVersion { get; set; }
    public List<Guid> EvaluationIds { get; set; } = [];
    public string? ReflectionProvider { get; set; }
    public string? ReflectionModel { get; set; }
    public string? JudgeProvider { get; set; }
    public string? JudgeModel { get; set; }
    public double? DeltaThreshold { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>Last sign of life of the current attempt; the sweeper fails attempts that stay silent too long.</summary>
    public DateTimeOffset LastProgressAt { get; set; }

    public int Attempt { get; set; }
    public List<AttemptRecord> Attempts { get; set; } = [];
    public RunPhase? Phase { get; set; }
    public List<PhaseRecord> Phases { get; set; } = [];
    public int RowsLoaded { get; set; }
    public int Disagreements { get; set; }
    public int AgreeingRowsSkipped { get; set; }
    public AgreementStatistics? Statistics { get; set; }
    public string? GuidelinesText { get; set; }
    public List<Guideline> Guidelines { get; set; } = [];
    public string? RefinedSystemPrompt { get; set; }
    public string? RefinedUserPromptTemplate { get; set; }
    public List<string> Warnings { get; set; } = [];
    public TokenUsage? TokenUsage { get; set; }
    public RunVerification? Verification { get; set; }

    public string? ErrorPhase { get; set; }
    public string? ErrorDetail { get; set; }
    public string? CancelReason { get; set; }

    public bool AcceptOverrideNewerVersion { get; set; }
    public string? ForkName { get; set; }
    /// <summary>When the user asked for the accept; re-sent requests carry it unchanged.</summary>
    public DateTimeOffset? AcceptRequestedAt { get; set; }
    /// <summary>How many times the current accept's fork/version request was sent to the Metrics service.</summary>
    public int AcceptSends { get; set; }
    /// <summary>Why the Metrics service refused the last accept; the run went back to Aligned.</summary>
    public string? AcceptRejectionReason { get; set; }
    public string? AcceptRejectionDetail { get; set; }
    public string? Outcome { get; set; }
    public Guid? OutcomeMetricId { get; set; }
    public string? OutcomeMetricKey { get; set; }
    public int? OutcomeVersion { get; set; }
    public DateTimeOffset? DecidedAt { get; set; }
    /// <summary>
    /// When the run was discarded. Set beside an accepted outcome when the discard followed a given-up accept whose
    /// change the Metrics service had made after all: its late answer made the run accepted.
    /// </summary>
    public DateTimeOffset? DiscardedAt { get; set; }
    /// <summary>W3C trace parent of the run's start, so that later decisions join the run's trace (see RunTrace).</summary>
    public string? TraceParent { get; set; }
}

public sealed record PhaseRecord
{
    public required int Attempt { get; init; }
    public required RunPhase Phase { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; set; }
}

public sealed record AttemptRecord
{
    public required int Attempt { get; init; }
    public required DateTimeOffset QueuedAt { get; init; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    /// <summary>aligned, error or cancelled once the attempt ended.</summary>
    public string? Result { get; set; }
    public string? ErrorPhase { get; set; }
    public string? ErrorDetail { get; set; }
}
