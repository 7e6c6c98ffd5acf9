using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Analysis;

// The seam between the run's phases: phase 1 streams ResolvedRow, phase 2 folds them into a TraceAnalysis
// (DisagreementAnalyzer), phase 3 hands it to an IReflectionEngine, phase 4 stores the DistillationResult.

public enum MetricType { Quantitative, Qualitative }

/// <summary>What the analysis needs to know of the metric being aligned (from the Metrics service).</summary>
public sealed record MetricDefinition
{
    public required Guid Id { get; init; }
    public required string Key { get; init; }
    public required string Name { get; init; }
    public required MetricType Type { get; init; }
    /// <summary>Scale bounds for quantitative metrics (e.g. 1 and 5, or 0 and 1).</summary>
    public double? ScaleMin { get; init; }
    public double? ScaleMax { get; init; }
    /// <summary>Allowed labels for qualitative metrics.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];
    public required int Version { get; init; }
    public required string SystemPrompt { get; init; }
    public required string UserPromptTemplate { get; init; }
}

/// <summary>A row where judge and humans disagree, with everything a reflection engine may cite.</summary>
public sealed record DisagreementTrace
{
    public required Guid RowId { get; init; }
    public required Guid EvaluationId { get; init; }
    public string? ExternalId { get; init; }
    public required string InputText { get; init; }
    public required string Output { get; init; }
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
    public double? JudgeScore { get; init; }
    public string? JudgeLabel { get; init; }
    public string? JudgeExplanation { get; init; }
    public double? HumanScore { get; init; }
    public string? HumanLabel { get; init; }
    public IReadOnlyList<ReviewerAnnotation> Reviewers { get; init; } = [];
    /// <summary>judge - human for quantitative metrics; null for qualitative.</summary>
    public double? Delta { get; init; }
}

/// <summary>Agreement between judge and resolved human values over all loaded rows.</summary>
public sealed record AgreementStatistics
{
    public required int RowCount { get; init; }
    public required double ExactAgreement { get; init; }
    /// <summary>Quantitative only.</summary>
    public double? WithinOne { get; init; }
    public double? MeanAbsoluteError { get; init; }
    /// <summary>Mean of judge - human: positive means the judge is more lenient.</summary>
    public double? SignedBias { get; init; }
    public double? Spearman { get; init; }
    public double? QuadraticWeightedKappa { get; init; }
    /// <summary>Qualitative only (for quantitative, ExactAgreement is the accuracy).</summary>
    public double? CohensKappa { get; init; }
    /// <summary>Category names, in order, of the confusion matrix's rows (judge) and columns (human).</summary>
    public required IReadOnlyList<string> Categories { get; init; }
    /// <summary>
    /// ConfusionMatrix[judge][human] = row count. Quantitative values fall in the nearest scale point and halves round
    /// up (a human median of 4.5 counts as 5) — for this matrix and the quadratic kappa only; bias, MAE and Spearman
    /// use the exact values.
    /// </summary>
    public required IReadOnlyList<IReadOnlyList<int>> ConfusionMatrix { get; init; }
    /// <summary>Krippendorff's alpha among the individual reviewers (the ceiling), when reviewer scores exist.</summary>
    public double? ReviewerAlpha { get; init; }
}

/// <summary>Phase 2's result: counts, statistics and a bounded set of traces.</summary>
public sealed record TraceAnalysis
{
    public required int RowsLoaded { get; init; }
    public required int Disagreements { get; init; }
    public required int AgreeingRowsSkipped { get; init; }
    public required AgreementStatistics Statistics { get; init; }
    /// <summary>The disagreement traces kept for distillation (bounded; most instructive and diverse first).</summary>
    public required IReadOnlyList<DisagreementTrace> Traces { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>The |judge - human| threshold the rows were judged against (ignored for qualitative metrics).</summary>
    public double DeltaThreshold { get; init; }
    /// <summary>Rows lacking a judge value or a resolved human value: neither agreeing nor disagreeing.</summary>
    public int RowsMissingValues { get; init; }
    /// <summary>Per judge score level (or judge label), over all comparable rows, lowest level first.</summary>
    public IReadOnlyList<JudgeLevelSummary> PerJudgeLevel { get; init; } = [];
    /// <summary>Disagreement rates by tag value and by input/output length bucket, over all comparable rows.</summary>
    public IReadOnlyList<SliceSummary> Slices { get; init; } = [];
    /// <summary>Recurring words and word pairs in reviewer comments and judge explanations, most frequent in disagreements first.</summary>
    public IReadOnlyList<CommentTheme> CommentThemes { get; init; } = [];
}

public sealed record Guideline
{
    public required string Text { get; init; }
    /// <summary>The rows this guideline was drawn from.</summary>
    public IReadOnlyList<Guid> SourceRowIds { get; init; } = [];
}

public sealed record DistillationRequest
{
    public required MetricDefinition Metric { get; init; }
    public required TraceAnalysis Analysis { get; init; }
    public string? Model { get; init; }
}

public sealed record DistillationResult
{
    /// <summary>The guidelines as readable text (markdown), as shown on the run.</summary>
    public required string GuidelinesText { get; init; }
    public required IReadOnlyList<Guideline> Guidelines { get; init; }
    public required string RefinedSystemPrompt { get; init; }
    public required string RefinedUserPromptTemplate { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>Turns disagreement traces and the current prompt into guidelines and a refined prompt.</summary>
public interface IReflectionEngine
{
    /// <summary>The provider name this engine serves ("builtin" for the deterministic distiller).</summary>
    string Provider { get; }
    Task<DistillationResult> DistillAsync(DistillationRequest request, CancellationToken cancellationToken);
}
