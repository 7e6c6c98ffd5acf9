namespace MetricAlignment.Web.Clients;

// The Annotations service's shapes as this front end reads them.

public sealed record EvaluationSummary
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    /// <summary>running or completed.</summary>
    public string Status { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public long RowCount { get; init; }
    public IReadOnlyList<EvaluationMetric> Metrics { get; init; } = [];
}

public sealed record EvaluationMetric(Guid MetricId, string MetricKey, string Type, string ResolutionRule);

public sealed record RowPage(IReadOnlyList<EvaluationRow> Items, Guid? NextAfter);

public sealed record EvaluationRow
{
    public Guid Id { get; init; }
    public Guid EvaluationId { get; init; }
    public int Ordinal { get; init; }
    public string? ExternalId { get; init; }
    public RowInput? Input { get; init; }
    public string Output { get; init; } = "";
    public string? Context { get; init; }
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<RowMetric> Metrics { get; init; } = [];
}

public sealed record RowInput(string? Text, IReadOnlyList<ConversationMessage>? Messages);

public sealed record ConversationMessage(string Role, string Content);

public sealed record RowMetric
{
    public Guid MetricId { get; init; }
    public string MetricKey { get; init; } = "";
    public JudgeScore? Judge { get; init; }
    public IReadOnlyList<ReviewerAnnotation> Annotations { get; init; } = [];
    public RowResolution? Resolution { get; init; }
}

public sealed record JudgeScore(double? Score, string? Label, string? Explanation, string? Model);

public sealed record ReviewerAnnotation(string ReviewerId, double? Score, string? Label, string? Comment, DateTimeOffset AnnotatedAt);

public sealed record RowResolution(double? Score, string? Label, string Method, string? ResolvedBy, string? Note, DateTimeOffset ResolvedAt, int Revision);

public sealed record AnnotationResult(bool Created, ReviewerAnnotation Annotation, RowResolution? Resolution);

public sealed record NewAnnotation(string Metric, string ReviewerId, double? Score, string? Label, string? Comment);

public sealed record NewResolution(string ResolvedBy, double? Score, string? Label, string? Note);
