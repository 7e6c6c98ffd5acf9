namespace MetricAlignment.Contracts;

/// <summary>An aligned run was closed without adopting its refined prompt.</summary>
public sealed record AlignmentRunDiscarded
{
    public required Guid RunId { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int MetricVersion { get; init; }
    public required DateTimeOffset DiscardedAt { get; init; }
}
