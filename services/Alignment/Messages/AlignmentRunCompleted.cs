using MetricAlignment.Alignment.Worker;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;

namespace MetricAlignment.Alignment.Messages;

/// <summary>Internal: a worker finished all phases of an attempt; the saga stores the result and goes Aligned.</summary>
public sealed record AlignmentRunCompleted
{
    public required Guid RunId { get; init; }
    public required int Attempt { get; init; }
    public required int RowsLoaded { get; init; }
    public required int Disagreements { get; init; }
    public required int AgreeingRowsSkipped { get; init; }
    public required AgreementStatistics Statistics { get; init; }
    public required string GuidelinesText { get; init; }
    public required IReadOnlyList<Guideline> Guidelines { get; init; }
    public required string RefinedSystemPrompt { get; init; }
    public required string RefinedUserPromptTemplate { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>Model tokens spent by the attempt, per phase and in total (zero calls with the built-in distiller).</summary>
    public TokenUsage? TokenUsage { get; init; }
    /// <summary>Set when the run had a judge model: the refined prompt checked on held-out rows.</summary>
    public RunVerification? Verification { get; init; }
    /// <summary>
    /// When the worker entered each phase of the attempt. The saga completes the run's phase history from it: Finalizing
    /// has no report of its own, and a phase's report can reach the saga after the result (then it is ignored). Null from
    /// workers of earlier versions, which reported every phase separately.
    /// </summary>
    public IReadOnlyDictionary<RunPhase, DateTimeOffset>? PhasesStartedAt { get; init; }
    public required DateTimeOffset At { get; init; }
}
