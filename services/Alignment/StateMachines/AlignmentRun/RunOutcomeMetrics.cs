using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Alignment.StateMachines.AlignmentRun;

/// <summary>
/// Counts run outcomes from the events the saga publishes. The saga's outbox sends them only after its transaction
/// committed, so a rolled-back or retried transition is not counted twice.
/// </summary>
public sealed class RunOutcomeMetrics : IPublishObserver
{
    public Task PostPublish<T>(PublishContext<T> context) where T : class
    {
        switch (context.Message)
        {
            case AlignmentRunAligned aligned:
                Telemetry.RecordRunOutcome("aligned");
                Telemetry.RunDisagreements.Record(aligned.Disagreements);
                break;
            case AlignmentRunFailed:
                Telemetry.RecordRunOutcome("error");
                break;
            case AlignmentRunCancelled:
                Telemetry.RecordRunOutcome("cancelled");
                break;
            case AlignmentRunAccepted:
                Telemetry.RecordRunOutcome("accepted");
                break;
            case AlignmentRunDiscarded:
                Telemetry.RecordRunOutcome("discarded");
                break;
        }
        return Task.CompletedTask;
    }

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}
