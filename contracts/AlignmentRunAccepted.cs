namespace MetricAlignment.Contracts;

/// <summary>
/// An aligned run was accepted and its refined prompt now lives in <see cref="NewMetricId"/> at <see cref="NewVersion"/>:
/// a fork of a built-in metric (<see cref="Forked"/>) or a new version of the same custom metric.
/// </summary>
public sealed record AlignmentRunAccepted
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    /// <summary>The metric version the run aligned.</summary>
    public required int FromVersion { get; init; }
    public required bool Forked { get; init; }
    public required Guid NewMetricId { get; init; }
    public required string NewMetricKey { get; init; }
    public required int NewVersion { get; init; }
    public required int Disagreements { get; init; }
    public required int GuidelineCount { get; init; }
    public required DateTimeOffset AcceptedAt { get; init; }
}
