using MassTransit;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.StateMachines.AlignmentRun;

public sealed class AlignmentRunStateDefinition : SagaDefinition<AlignmentRunState>
{
    public AlignmentRunStateDefinition()
    {
        ConcurrentMessageLimit = 16;
    }

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<AlignmentRunState> sagaConfigurator,
        IRegistrationContext context)
    {
        // The repository locks the row, so a concurrency failure is rare; anything else is not going to heal by retrying at once.
        endpointConfigurator.UseMessageRetry(r =>
        {
            r.Ignore<SagaException>(e => e is not ConcurrencyException);
            r.Intervals(50, 200, 500, 1000);
        });
        // Nothing leaves before the saga's transaction committed. With the transactional outbox on (AddAlignmentRunOutbox)
        // the repository writes what the saga publishes into the outbox inside that transaction, so only the request
        // client's acknowledgement is still held here; without it (tests on the in-memory repository) everything is.
        endpointConfigurator.UseInMemoryOutbox(context);

        // Messages of one run are handled one at a time in this process; the row lock orders them across processes.
        var partition = endpointConfigurator.CreatePartitioner(ConcurrentMessageLimit ?? 16);
        sagaConfigurator.Message<StartAlignmentRun>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<CancelAlignmentRun>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<AcceptAlignmentRun>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<DiscardAlignmentRun>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<RetryAlignmentRun>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<AlignmentRunExecutionStarted>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<AlignmentRunProgressed>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<AlignmentRunCompleted>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<AlignmentRunPhaseFailed>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<AlignmentRunStopped>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<MetricForkCreated>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<MetricVersionCreated>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<MetricChangeRejected>(x => x.UsePartitioner(partition, m => m.Message.RunId));
        sagaConfigurator.Message<AlignmentRunAcceptUnanswered>(x => x.UsePartitioner(partition, m => m.Message.RunId));
    }
}
