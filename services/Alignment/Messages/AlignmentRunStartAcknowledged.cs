namespace MetricAlignment.Alignment.Messages;

/// <summary>Internal: the saga's answer to a StartAlignmentRun request, sent once the run is stored.</summary>
public sealed record AlignmentRunStartAcknowledged
{
    public required Guid RunId { get; init; }
    public required string Status { get; init; }
}
