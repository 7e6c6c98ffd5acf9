namespace MetricAlignment.Contracts;

/// <summary>
/// Adopts an aligned run's refined prompt: a built-in metric is forked into a new custom metric, a custom metric
/// gets a new version. Only the first accept of an aligned run with disagreements has an effect.
/// </summary>
public sealed record AcceptAlignmentRun
{
    public required Guid RunId { get; init; }
    /// <summary>Version a custom metric even when it gained a newer version since the run started.</summary>
    public required bool OverrideNewerVersion { get; init; }
    /// <summary>Name of the fork (built-in metrics only); when null the Metrics service derives one.</summary>
    public string? ForkName { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
