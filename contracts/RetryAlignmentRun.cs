namespace MetricAlignment.Contracts;

/// <summary>Starts a new attempt of a run that ended in error, with the same options; earlier attempts stay in its history.</summary>
public sealed record RetryAlignmentRun
{
    public required Guid RunId { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
