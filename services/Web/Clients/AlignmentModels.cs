namespace MetricAlignment.Web.Clients;

// The Alignment service's shapes as this front end reads them.

public sealed record EligibleEvaluation
{
    public Guid EvaluationId { get; init; }
    public string Name { get; init; } = "";
    public string Status { get; init; } = "";
    public DateTimeOffset? CreatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public long RowCount { get; init; }
    public long ResolvedRowCount { get; init; }

    /// <summary>A run can learn only from a completed evaluation with resolved human values.</summary>
    public bool IsUsable => Status == "completed" && ResolvedRowCount > 0;
}

/// <summary>What a blank reflection provider and model mean, and the providers a run may name.</summary>
public sealed record AlignmentProviders
{
    public string DefaultProvider { get; init; } = "";
    public string? DefaultModel { get; init; }
    public IReadOnlyList<AlignmentProvider> Providers { get; init; } = [];

    public AlignmentProvider? Find(string? name) =>
        Providers.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}

public sealed record AlignmentProvider
{
    public string Name { get; init; } = "";
    public string? DefaultModel { get; init; }
    /// <summary>Empty when the provider accepts any model.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];
    public bool CanJudge { get; init; }
}

public sealed record AlignmentRun
{
    public Guid Id { get; init; }
    /// <summary>pending, running, aligned, accepting, accepted, discarded, error or cancelled.</summary>
    public string Status { get; init; } = "";
    public RunMetric? Metric { get; init; }
    public RunOptions? Options { get; init; }
    /// <summary>loading_annotations, building_disagreement_traces, distilling_guidelines or finalizing.</summary>
    public string? Phase { get; init; }
    public RunProgress? Progress { get; init; }
    public RunCounts? Counts { get; init; }
    public AgreementStatistics? Statistics { get; init; }
    public string? GuidelinesText { get; init; }
    public IReadOnlyList<Guideline> Guidelines { get; init; } = [];
    public RefinedPrompt? RefinedPrompt { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];
    public TokenUsage? TokenUsage { get; init; }
    public RunVerification? Verification { get; init; }
    public RunError? Error { get; init; }
    public string? CancelReason { get; init; }
    public int Attempt { get; init; }
    public RunOutcome? Outcome { get; init; }
    public RunError? AcceptRejection { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Still changing on its own: the page keeps asking for news.</summary>
    public bool IsInFlight => Status is "pending" or "running" or "accepting";
    public bool CanCancel => Status is "pending" or "running";
    public bool CanDecide => Status == "aligned";
    public bool CanRetry => Status == "error";
    public bool HasResult => Status is "aligned" or "accepting" or "accepted" or "discarded";
}

public sealed record RunMetric(Guid Id, string? Key, string? Name, string? Kind, string? Type, int Version);

public sealed record RunOptions(IReadOnlyList<Guid>? EvaluationIds, string? ReflectionProvider, string? ReflectionModel,
    string? JudgeProvider, string? JudgeModel, double? DeltaThreshold);

public sealed record RunProgress(int RowsLoaded, DateTimeOffset? LastProgressAt);

public sealed record RunCounts(int RowsLoaded, int Disagreements, int AgreeingRowsSkipped, int Guidelines);

public sealed record RefinedPrompt(string SystemPrompt, string UserPromptTemplate)
{
    public string FullPrompt => PromptText.Combine(SystemPrompt, UserPromptTemplate);
}

public sealed record RunError(string Phase, string Detail);

/// <summary>decision: discarded, forked or versioned.</summary>
public sealed record RunOutcome(string Decision, Guid? MetricId, string? MetricKey, int? Version, DateTimeOffset? DecidedAt);

public sealed record Guideline
{
    public string Text { get; init; } = "";
    public IReadOnlyList<Guid> SourceRowIds { get; init; } = [];
}

public sealed record AgreementStatistics
{
    public int RowCount { get; init; }
    public double ExactAgreement { get; init; }
    public double? WithinOne { get; init; }
    public double? MeanAbsoluteError { get; init; }
    public double? SignedBias { get; init; }
    public double? Spearman { get; init; }
    public double? QuadraticWeightedKappa { get; init; }
    public double? CohensKappa { get; init; }
    public double? ReviewerAlpha { get; init; }
    /// <summary>Names of the confusion matrix's rows (judge) and columns (human), in order.</summary>
    public IReadOnlyList<string> Categories { get; init; } = [];
    /// <summary>ConfusionMatrix[judge][human] = row count.</summary>
    public IReadOnlyList<IReadOnlyList<int>> ConfusionMatrix { get; init; } = [];
}

public sealed record TokenCount(long PromptTokens, long CompletionTokens, int Calls)
{
    public long TotalTokens => PromptTokens + CompletionTokens;
}

public sealed record TokenUsage(TokenCount? Total, long? Budget);

/// <summary>The refined prompt re-scored by a judge model on held-out rows, against the current prompt.</summary>
public sealed record RunVerification
{
    public string JudgeProvider { get; init; } = "";
    public string JudgeModel { get; init; } = "";
    public int HeldOutRowCount { get; init; }
    public AgreementStatistics? Baseline { get; init; }
    public AgreementStatistics? Refined { get; init; }
    public IReadOnlyList<Guid> RowsFixed { get; init; } = [];
    public IReadOnlyList<Guid> RowsMadeWorse { get; init; } = [];
    public bool Improved { get; init; }
    public string Summary { get; init; } = "";
}

public sealed record StartAlignmentRequest
{
    public required Guid MetricId { get; init; }
    public required IReadOnlyList<Guid> EvaluationIds { get; init; }
    public string? ReflectionProvider { get; init; }
    public string? ReflectionModel { get; init; }
    public string? JudgeProvider { get; init; }
    public string? JudgeModel { get; init; }
    public double? DeltaThreshold { get; init; }
}

public sealed record AcceptAlignmentRequest(bool OverrideNewerVersion, string? ForkName);

public sealed record CancelOutcome(bool Changed, string Status, string? Reason);
