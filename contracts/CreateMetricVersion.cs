namespace MetricAlignment.Contracts;

/// <summary>
/// Asks the Metrics service to add a version to a custom metric. Refused when the metric's current version is
/// no longer <see cref="ExpectedCurrentVersion"/>, unless <see cref="OverrideNewerVersion"/> is set.
/// Idempotent per <see cref="RunId"/>. Answered with <see cref="MetricVersionCreated"/> or <see cref="MetricChangeRejected"/>.
/// </summary>
public sealed record CreateMetricVersion
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required int ExpectedCurrentVersion { get; init; }
    public required bool OverrideNewerVersion { get; init; }
    public required string SystemPrompt { get; init; }
    public required string UserPromptTemplate { get; init; }
    public required string ChangeNote { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
