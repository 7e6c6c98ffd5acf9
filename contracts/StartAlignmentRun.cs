namespace MetricAlignment.Contracts;

/// <summary>
/// Queues an alignment run. Sent by the Alignment API once it has validated the request; idempotent per
/// <see cref="RunId"/> (a repeat changes nothing). The metric fields are the metric as it was when the run was asked for.
/// </summary>
public sealed record StartAlignmentRun
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required string MetricName { get; init; }
    /// <summary>built_in or custom: decides whether accepting forks the metric or versions it.</summary>
    public required string MetricKind { get; init; }
    /// <summary>quantitative or qualitative.</summary>
    public required string MetricType { get; init; }
    /// <summary>The metric version the run aligns; a custom metric's accept expects it to still be current.</summary>
    public required int MetricVersion { get; init; }
    public required IReadOnlyList<Guid> EvaluationIds { get; init; }
    public required string ReflectionProvider { get; init; }
    public string? ReflectionModel { get; init; }
    public string? JudgeProvider { get; init; }
    public string? JudgeModel { get; init; }
    /// <summary>Minimum |judge - human| counted as a disagreement (quantitative metrics); null for qualitative ones.</summary>
    public double? DeltaThreshold { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
