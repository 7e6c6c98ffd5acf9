namespace MetricAlignment.Contracts;

/// <summary>A run (or a new attempt of it) is waiting for a worker.</summary>
public sealed record AlignmentRunQueued
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int MetricVersion { get; init; }
    public required IReadOnlyList<Guid> EvaluationIds { get; init; }
    public required string ReflectionProvider { get; init; }
    public string? ReflectionModel { get; init; }
    public double? DeltaThreshold { get; init; }
    /// <summary>1 for the first attempt, incremented by every retry.</summary>
    public required int Attempt { get; init; }
    public required DateTimeOffset QueuedAt { get; init; }
}
