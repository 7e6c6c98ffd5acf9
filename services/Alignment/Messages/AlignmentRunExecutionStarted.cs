namespace MetricAlignment.Alignment.Messages;

/// <summary>Internal: a worker began (or, after a redelivery, resumed) an attempt.</summary>
public sealed record AlignmentRunExecutionStarted
{
    public required Guid RunId { get; init; }
    public required int Attempt { get; init; }
    public required string WorkerInstance { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
}
