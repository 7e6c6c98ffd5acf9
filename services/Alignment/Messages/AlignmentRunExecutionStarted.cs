namespace MetricAlignment.Alignment.Messages;

/// <summary>
/// Internal: a worker began (or, after a redelivery, resumed) an attempt. Workers no longer send it (their first
/// AlignmentRunProgressed starts the run); the saga still handles it for workers of earlier versions during a rolling upgrade.
/// </summary>
public sealed record AlignmentRunExecutionStarted
{
    public required Guid RunId { get; init; }
    public required int Attempt { get; init; }
    public required string WorkerInstance { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
}
