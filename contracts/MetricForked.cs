namespace MetricAlignment.Contracts;

/// <summary>A built-in metric was forked into a new custom metric carrying an accepted run's refined prompt.</summary>
public sealed record MetricForked
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid SourceMetricId { get; init; }
    public required string SourceMetricKey { get; init; }
    public required int SourceVersion { get; init; }
    public required Guid NewMetricId { get; init; }
    public required string NewMetricKey { get; init; }
    public required string NewMetricName { get; init; }
    public required int NewVersion { get; init; }
    public required DateTimeOffset ForkedAt { get; init; }
}
