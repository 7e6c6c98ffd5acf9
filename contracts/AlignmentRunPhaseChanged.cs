namespace MetricAlignment.Contracts;

/// <summary>
/// A running run entered a phase: loading_annotations, building_disagreement_traces, distilling_guidelines or finalizing.
/// </summary>
public sealed record AlignmentRunPhaseChanged
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int Attempt { get; init; }
    public required string Phase { get; init; }
    public string? PreviousPhase { get; init; }
    /// <summary>Rows loaded so far in this attempt.</summary>
    public required int RowsLoaded { get; init; }
    public required DateTimeOffset ChangedAt { get; init; }
}
