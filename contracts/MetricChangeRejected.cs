namespace MetricAlignment.Contracts;

/// <summary>
/// The Metrics service refused a <see cref="CreateMetricFork"/> or <see cref="CreateMetricVersion"/>.
/// <see cref="Reason"/> is one of: metric_not_found, built_in_metric (versions only), version_conflict, invalid_prompt.
/// </summary>
public sealed record MetricChangeRejected
{
    public required Guid RunId { get; init; }
    public required Guid MetricId { get; init; }
    public required string Reason { get; init; }
    public required string Detail { get; init; }
    /// <summary>The metric's current version when the request was refused, when the metric exists.</summary>
    public int? CurrentVersion { get; init; }
    public int? ExpectedVersion { get; init; }
}
