using MetricAlignment.Annotations.Import;

namespace MetricAlignment.Annotations.Api;

public sealed record CreateEvaluationRequest
{
    public string? Name { get; init; }
    /// <summary>Optional: metrics scored, each { metric, resolution }. Annotating a row declares its metric too.</summary>
    public List<ImportHeaderMetric?>? Metrics { get; init; }
}

public sealed record AnnotationRequest
{
    public string? Metric { get; init; }
    /// <summary>The caller's own subject; only an admin may name another reviewer (see RowEndpoints.ReviewerRule).</summary>
    public string? ReviewerId { get; init; }
    public double? Score { get; init; }
    public string? Label { get; init; }
    public string? Comment { get; init; }
}

public sealed record ResolutionRequest
{
    public string? ResolvedBy { get; init; }
    public double? Score { get; init; }
    public string? Label { get; init; }
    public string? Note { get; init; }
}

public sealed record ImportResponse(Guid EvaluationId, int Rows, int Annotations, int Resolved);
