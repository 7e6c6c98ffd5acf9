namespace MetricAlignment.Contracts;

/// <summary>
/// Asks the Metrics service to fork a metric into a new custom metric carrying the given prompts.
/// Idempotent per <see cref="RunId"/>: a repeat answers with the fork made the first time.
/// Answered with <see cref="MetricForkCreated"/> or <see cref="MetricChangeRejected"/>.
/// </summary>
public sealed record CreateMetricFork
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required int BaseVersion { get; init; }
    /// <summary>Name of the new metric; when null the Metrics service derives one from the source metric.</summary>
    public string? Name { get; init; }
    public required string SystemPrompt { get; init; }
    public required string UserPromptTemplate { get; init; }
    public required string ChangeNote { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
