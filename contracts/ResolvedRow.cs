namespace MetricAlignment.Contracts;

/// <summary>
/// One row with a resolved annotation for one metric, as the Annotations service streams it
/// (GET /api/metrics/{metric}/resolved-rows, NDJSON). Quantitative metrics carry numbers in the *Score fields;
/// qualitative metrics carry category labels in the *Label fields.
/// </summary>
public sealed record ResolvedRow
{
    public required Guid RowId { get; init; }
    public required Guid EvaluationId { get; init; }
    /// <summary>The row's id in the system it was imported from, when it had one.</summary>
    public string? ExternalId { get; init; }
    public required RowInput Input { get; init; }
    public required string Output { get; init; }
    public string? Context { get; init; }
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public double? JudgeScore { get; init; }
    public string? JudgeLabel { get; init; }
    public string? JudgeExplanation { get; init; }
    public string? JudgeModel { get; init; }
    public double? ResolvedScore { get; init; }
    public string? ResolvedLabel { get; init; }
    /// <summary>How the value was agreed: single_reviewer, unanimous, explicit or a bulk rule such as median.</summary>
    public required string ResolutionMethod { get; init; }
    public IReadOnlyList<ReviewerAnnotation> Reviewers { get; init; } = [];
}
