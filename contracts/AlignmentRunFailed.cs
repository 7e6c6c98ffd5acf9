namespace MetricAlignment.Contracts;

/// <summary>An attempt of a run ended in error; a retry starts a new attempt.</summary>
public sealed record AlignmentRunFailed
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int Attempt { get; init; }
    /// <summary>The phase that failed (queued when no worker ever picked the attempt up).</summary>
    public required string Phase { get; init; }
    public required string Detail { get; init; }
    public required DateTimeOffset FailedAt { get; init; }
    /// <summary>
    /// Prompt + completion tokens the attempt spent on model calls before it failed (since 2.1.0): 0 when it spent none,
    /// null when unknown (the stall sweeper gave up on it, it failed before the worker set up its models, or an older sender).
    /// </summary>
    public long? TotalTokens { get; init; }
    /// <summary>Prompt (input) tokens of those calls (since 2.1.0).</summary>
    public long? PromptTokens { get; init; }
    /// <summary>Completion (output) tokens of those calls (since 2.1.0).</summary>
    public long? CompletionTokens { get; init; }
    /// <summary>Tokens per phase (reflection.batch, reflection.merge, verification.baseline, verification.refined), since 2.1.0.</summary>
    public IReadOnlyDictionary<string, long>? TokensPerPhase { get; init; }
    /// <summary>Prompt tokens per phase, keyed like <see cref="TokensPerPhase"/> (since 2.1.0).</summary>
    public IReadOnlyDictionary<string, long>? PromptTokensPerPhase { get; init; }
    /// <summary>Completion tokens per phase, keyed like <see cref="TokensPerPhase"/> (since 2.1.0).</summary>
    public IReadOnlyDictionary<string, long>? CompletionTokensPerPhase { get; init; }
}
