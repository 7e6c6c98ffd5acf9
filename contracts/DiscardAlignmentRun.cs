namespace MetricAlignment.Contracts;

/// <summary>Closes an aligned run without adopting its refined prompt.</summary>
public sealed record DiscardAlignmentRun
{
    public required Guid RunId { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
