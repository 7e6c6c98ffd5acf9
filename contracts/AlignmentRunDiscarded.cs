namespace MetricAlignment.Contracts;

/// <summary>An aligned run was closed without adopting its refined prompt.</summary>
public sealed record AlignmentRunDiscarded
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int MetricVersion { get; init; }
    public required DateTimeOffset DiscardedAt { get; init; }
}
