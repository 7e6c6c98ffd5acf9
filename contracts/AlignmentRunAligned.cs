namespace MetricAlignment.Contracts;

/// <summary>A run finished: guidelines and a refined prompt are ready to be accepted or discarded.</summary>
public sealed record AlignmentRunAligned
{
    public required Guid RunId { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int MetricVersion { get; init; }
    public required int Attempt { get; init; }
    public required int RowsLoaded { get; init; }
    public required int Disagreements { get; init; }
    public required int AgreeingRowsSkipped { get; init; }
    public required int GuidelineCount { get; init; }
    /// <summary>Share of rows where judge and humans agree exactly (0..1).</summary>
    public required double ExactAgreement { get; init; }
    public required DateTimeOffset AlignedAt { get; init; }
}
