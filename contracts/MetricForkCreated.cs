namespace MetricAlignment.Contracts;

/// <summary>The Metrics service's answer to <see cref="CreateMetricFork"/>: the fork exists (now or from before).</summary>
public sealed record MetricForkCreated
{
    public required Guid RunId { get; init; }
    public required Guid SourceMetricId { get; init; }
    public required int SourceVersion { get; init; }
    public required Guid NewMetricId { get; init; }
    public required string NewMetricKey { get; init; }
    public required string NewMetricName { get; init; }
    public required int NewVersion { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}
