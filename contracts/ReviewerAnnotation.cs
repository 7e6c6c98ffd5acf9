namespace MetricAlignment.Contracts;

/// <summary>One reviewer's score (or label) for a (row, metric), with an optional comment.</summary>
public sealed record ReviewerAnnotation
{
    public required string ReviewerId { get; init; }
    public double? Score { get; init; }
    public string? Label { get; init; }
    public string? Comment { get; init; }
    public required DateTimeOffset AnnotatedAt { get; init; }
}
