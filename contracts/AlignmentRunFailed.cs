namespace MetricAlignment.Contracts;

/// <summary>An attempt of a run ended in error; a retry starts a new attempt.</summary>
public sealed record AlignmentRunFailed
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int Attempt { get; init; }
    /// <summary>The phase that failed (queued when no worker ever picked the attempt up).</summary>
    public required string Phase { get; init; }
    public required string Detail { get; init; }
    public required DateTimeOffset FailedAt { get; init; }
}
