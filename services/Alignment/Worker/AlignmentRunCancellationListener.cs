using MassTransit;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Worker;

/// <summary>
/// Bound to a temporary queue per instance (fan-out): every instance hears every cancellation and stops the run if it
/// is executing here. A consumer's own CancellationToken only fires at shutdown, so this is what stops a cancelled run.
/// A run failed elsewhere (by the stall sweeper) is stopped the same way, so a stuck worker does not keep working on it.
/// </summary>
public sealed class AlignmentRunCancellationListener(RunCancellations cancellations, ILogger<AlignmentRunCancellationListener> logger)
    : IConsumer<AlignmentRunCancelled>, IConsumer<AlignmentRunFailed>
{
    public Task Consume(ConsumeContext<AlignmentRunCancelled> context)
    {
        if (cancellations.Cancel(context.Message.RunId))
            logger.LogInformation("Stopping alignment run {RunId}: it was cancelled", context.Message.RunId);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<AlignmentRunFailed> context)
    {
        if (cancellations.Cancel(context.Message.RunId))
            logger.LogInformation("Stopping alignment run {RunId}: it was failed ({Detail})", context.Message.RunId, context.Message.Detail);
        return Task.CompletedTask;
    }
}
