namespace MetricAlignment.Contracts;

/// <summary>Stops a queued or running alignment run. Has no effect on a finished run.</summary>
public sealed record CancelAlignmentRun
{
    public required Guid RunId { get; init; }
    /// <summary>
    /// The workspace of the run being cancelled (since 2.1.0). Optional, so senders from before 2.1 keep working: it only
    /// matters when the cancel overtakes the run's start, where it files the cancelled run (and its AlignmentRunCancelled)
    /// under that workspace. Without it such a cancellation is announced once the start brings the run's workspace.
    /// </summary>
    public string? Workspace { get; init; }
    public string? Reason { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
