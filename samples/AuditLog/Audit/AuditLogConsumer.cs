using MassTransit;
using MetricAlignment.Contracts;

namespace MetricAlignment.AuditLog.Audit;

/// <summary>Turns the accept-side events into audit entries. Unknown fields in the JSON are ignored by the deserializer.</summary>
public sealed class AuditLogConsumer(AuditTrail trail, TimeProvider clock, ILogger<AuditLogConsumer> logger)
    : IConsumer<AlignmentRunAccepted>, IConsumer<MetricForked>, IConsumer<MetricVersioned>
{
    public Task Consume(ConsumeContext<AlignmentRunAccepted> context)
    {
        var accepted = context.Message;
        Record(context, new AuditEntry
        {
            MessageId = MessageId(context),
            EventType = nameof(AlignmentRunAccepted),
            RunId = accepted.RunId,
            Workspace = accepted.Workspace,
            MetricId = accepted.MetricId,
            MetricKey = accepted.MetricKey,
            NewMetricId = accepted.NewMetricId,
            NewVersion = accepted.NewVersion,
            Summary = accepted.Forked
                ? $"Run accepted: {accepted.MetricKey} v{accepted.FromVersion} forked into {accepted.NewMetricKey} v{accepted.NewVersion} ({accepted.GuidelineCount} guidelines from {accepted.Disagreements} disagreements)."
                : $"Run accepted: {accepted.MetricKey} v{accepted.FromVersion} versioned to v{accepted.NewVersion} ({accepted.GuidelineCount} guidelines from {accepted.Disagreements} disagreements).",
            OccurredAt = accepted.AcceptedAt,
            ReceivedAt = clock.GetUtcNow(),
        });
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<MetricForked> context)
    {
        var forked = context.Message;
        Record(context, new AuditEntry
        {
            MessageId = MessageId(context),
            EventType = nameof(MetricForked),
            RunId = forked.RunId,
            Workspace = forked.Workspace,
            MetricId = forked.SourceMetricId,
            MetricKey = forked.SourceMetricKey,
            NewMetricId = forked.NewMetricId,
            NewVersion = forked.NewVersion,
            Summary = $"Metric {forked.SourceMetricKey} v{forked.SourceVersion} forked into \"{forked.NewMetricName}\" ({forked.NewMetricKey} v{forked.NewVersion}).",
            OccurredAt = forked.ForkedAt,
            ReceivedAt = clock.GetUtcNow(),
        });
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<MetricVersioned> context)
    {
        var versioned = context.Message;
        var overrode = versioned.AlignedVersion != versioned.PreviousVersion
            ? $" (aligned on v{versioned.AlignedVersion}, overriding the newer v{versioned.PreviousVersion})"
            : "";
        Record(context, new AuditEntry
        {
            MessageId = MessageId(context),
            EventType = nameof(MetricVersioned),
            RunId = versioned.RunId,
            Workspace = versioned.Workspace,
            MetricId = versioned.MetricId,
            MetricKey = versioned.MetricKey,
            NewMetricId = versioned.MetricId,
            NewVersion = versioned.NewVersion,
            Summary = $"Metric {versioned.MetricKey} versioned from v{versioned.PreviousVersion} to v{versioned.NewVersion}{overrode}.",
            OccurredAt = versioned.VersionedAt,
            ReceivedAt = clock.GetUtcNow(),
        });
        return Task.CompletedTask;
    }

    void Record(ConsumeContext context, AuditEntry entry)
    {
        if (!trail.TryRecord(entry))
            logger.LogInformation("Ignored duplicate {EventType} of run {RunId} (message {MessageId})", entry.EventType, entry.RunId, entry.MessageId);
    }

    // A sender without a message id (a hand-written publisher) still gets deduplicated by event type and run.
    static Guid MessageId(ConsumeContext context) => context.MessageId ?? NewId.NextGuid();
}

public sealed class AuditLogConsumerDefinition : ConsumerDefinition<AuditLogConsumer>
{
    public AuditLogConsumerDefinition() => EndpointName = "audit-log";

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<AuditLogConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(100, 500, 2000));
    }
}
