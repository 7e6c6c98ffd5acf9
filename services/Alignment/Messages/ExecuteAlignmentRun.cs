namespace MetricAlignment.Alignment.Messages;

/// <summary>Internal: the saga asks a worker (competing consumers) to execute one attempt of a run.</summary>
public sealed record ExecuteAlignmentRun
{
    public required Guid RunId { get; init; }
    /// <summary>The run's workspace: the worker reads the metric and the rows in it, and only in it.</summary>
    public required string Workspace { get; init; }
    public required int Attempt { get; init; }
    public required Guid MetricId { get; init; }
    public required IReadOnlyList<Guid> EvaluationIds { get; init; }
    public required string ReflectionProvider { get; init; }
    public string? ReflectionModel { get; init; }
    /// <summary>Set when the run verifies the refined prompt by re-scoring held-out rows with this judge.</summary>
    public string? JudgeProvider { get; init; }
    public string? JudgeModel { get; init; }
    public double? DeltaThreshold { get; init; }
}
