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
    /// When the worker entered the Finalizing phase. The saga records the phase from it: the worker sends no report of
    /// its own for Finalizing. Null from workers of earlier versions, which reported Finalizing separately.
    /// </summary>
    public DateTimeOffset? FinalizingAt { get; init; }
    public required DateTimeOffset At { get; init; }
}
