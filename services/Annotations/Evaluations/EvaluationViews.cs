using MetricAlignment.Contracts;

namespace MetricAlignment.Annotations.Evaluations;

public enum EvaluationStatus
{
    Running,
    Completed,
}

public sealed record EvaluationMetricView(Guid MetricId, string MetricKey, string Type, string ResolutionRule);

public sealed record EvaluationView(
    Guid Id, string Name, EvaluationStatus Status, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt, long RowCount,
    IReadOnlyList<EvaluationMetricView> Metrics);

public sealed record EligibleEvaluation(
    Guid EvaluationId, string Name, EvaluationStatus Status, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt,
    long RowCount, long ResolvedRowCount);

public sealed record JudgeView(double? Score, string? Label, string? Explanation, string? Model);

public sealed record ResolutionView(
    double? Score, string? Label, string Method, string? ResolvedBy, string? Note, DateTimeOffset ResolvedAt, int Revision);

public sealed record RowMetricView(
    Guid MetricId, string MetricKey, JudgeView? Judge, IReadOnlyList<ReviewerAnnotation> Annotations, ResolutionView? Resolution);

public sealed record RowView(
    Guid Id, Guid EvaluationId, int Ordinal, string? ExternalId, RowInput Input, string Output, string? Context,
    IReadOnlyDictionary<string, string> Tags, IReadOnlyList<RowMetricView> Metrics);

public sealed record RowPage(IReadOnlyList<RowView> Items, Guid? NextAfter);
