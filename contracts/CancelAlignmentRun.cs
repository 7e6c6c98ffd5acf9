namespace MetricAlignment.Contracts;

/// <summary>Stops a queued or running alignment run. Has no effect on a finished run.</summary>
public sealed record CancelAlignmentRun
{
    public required Guid RunId { get; init; }
    public string? Reason { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
