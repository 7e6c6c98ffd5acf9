namespace MetricAlignment.AuditLog.Audit;

/// <summary>One thing that happened to a metric because an alignment run was accepted.</summary>
public sealed record AuditEntry
{
    /// <summary>The MassTransit message id of the event this entry records.</summary>
    public required Guid MessageId { get; init; }
    /// <summary>The contract type name: AlignmentRunAccepted, MetricForked or MetricVersioned.</summary>
    public required string EventType { get; init; }
    public required Guid RunId { get; init; }
    /// <summary>The workspace of the run and its metric; the API shows a caller only its own workspace's entries.</summary>
    public required string Workspace { get; init; }
    /// <summary>The metric the entry is about: the aligned metric (accepted, versioned) or the fork's source.</summary>
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    /// <summary>The metric that now carries the refined prompt.</summary>
    public required Guid NewMetricId { get; init; }
    public required int NewVersion { get; init; }
    public required string Summary { get; init; }
    public required DateTimeOffset OccurredAt { get; init; }
    public required DateTimeOffset ReceivedAt { get; init; }
}
