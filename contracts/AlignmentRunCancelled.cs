namespace MetricAlignment.Contracts;

/// <summary>
/// A queued or running run was cancelled. Every Alignment instance hears it (fan-out) and stops the run's work
/// if it is executing there.
/// </summary>
public sealed record AlignmentRunCancelled
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    /// <summary>Empty when the cancel arrived before the run was queued.</summary>
    public required Guid MetricId { get; init; }
    public string? MetricKey { get; init; }
    public required int Attempt { get; init; }
    /// <summary>The phase that was running, or null when the run was still queued.</summary>
    public string? Phase { get; init; }
    public string? Reason { get; init; }
    public required DateTimeOffset CancelledAt { get; init; }
}
