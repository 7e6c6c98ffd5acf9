namespace MetricAlignment.Contracts;

/// <summary>The Metrics service's answer to <see cref="CreateMetricVersion"/>: the version exists (now or from before).</summary>
public sealed record MetricVersionCreated
{
    public required Guid RunId { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int PreviousVersion { get; init; }
    public required int NewVersion { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}
