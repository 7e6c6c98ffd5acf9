namespace MetricAlignment.Contracts;

/// <summary>A run finished: guidelines and a refined prompt are ready to be accepted or discarded.</summary>
public sealed record AlignmentRunAligned
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int MetricVersion { get; init; }
    public required int Attempt { get; init; }
    public required int RowsLoaded { get; init; }
    public required int Disagreements { get; init; }
    public required int AgreeingRowsSkipped { get; init; }
    public required int GuidelineCount { get; init; }
    /// <summary>Share of rows where judge and humans agree exactly (0..1).</summary>
    public required double ExactAgreement { get; init; }
    public required DateTimeOffset AlignedAt { get; init; }
    /// <summary>Prompt + completion tokens the attempt spent on model calls (0 with the built-in distiller); null from older senders.</summary>
    public long? TotalTokens { get; init; }
    /// <summary>Tokens per phase (reflection.batch, reflection.merge, verification.baseline, verification.refined).</summary>
    public IReadOnlyDictionary<string, long>? TokensPerPhase { get; init; }
    /// <summary>Prompt (input) tokens of the attempt's model calls (since 2.1.0); null from older senders.</summary>
    public long? PromptTokens { get; init; }
    /// <summary>Completion (output) tokens of the attempt's model calls (since 2.1.0); null from older senders.</summary>
    public long? CompletionTokens { get; init; }
    /// <summary>Prompt tokens per phase, keyed like <see cref="TokensPerPhase"/> (since 2.1.0).</summary>
    public IReadOnlyDictionary<string, long>? PromptTokensPerPhase { get; init; }
    /// <summary>Completion tokens per phase, keyed like <see cref="TokensPerPhase"/> (since 2.1.0).</summary>
    public IReadOnlyDictionary<string, long>? CompletionTokensPerPhase { get; init; }
    /// <summary>Null when the run had no judge model; otherwise whether the refined prompt did better on held-out rows.</summary>
    public bool? VerificationImproved { get; init; }
    /// <summary>Judge verification's plain-sentence verdict; null when the run had no judge model.</summary>
    public string? VerificationSummary { get; init; }
}
