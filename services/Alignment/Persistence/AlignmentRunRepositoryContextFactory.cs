using MassTransit;
using MassTransit.Saga;
using MetricAlignment.Alignment.Persistence.Outbox;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using Npgsql;

namespace MetricAlignment.Alignment.Persistence;

/// <summary>
/// Runs each consumed message for the AlignmentRun saga inside its own PostgreSQL transaction. With the transactional
/// outbox on (<see cref="AlignmentRunOutboxRegistration.AddAlignmentRunOutbox"/>), what the saga publishes is captured and
/// written into the outbox in that transaction.
/// </summary>
public sealed class AlignmentRunRepositoryContextFactory(
    NpgsqlDataSource dataSource,
    ISagaConsumeContextFactory<AlignmentRunDatabaseContext, AlignmentRunState> factory,
    IEnumerable<AlignmentRunOutbox> outbox)
    : ISagaRepositoryContextFactory<AlignmentRunState>, ILoadSagaRepositoryContextFactory<AlignmentRunState>
{
    readonly bool useOutbox = outbox.Any();

    public void Probe(ProbeContext context)
    {
        context.Add("persistence", "postgresql");
        context.Add("outbox", useOutbox ? "transactional" : "none");
    }

    public async Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<AlignmentRunState, T>> next) where T : class
    {
        await using var database = await AlignmentRunDatabaseContext.BeginAsync(dataSource, context.CancellationToken);
        var sagaContext = useOutbox ? new OutboxCaptureConsumeContext<T>(context, database.CaptureOutbox()) : context;
        var repositoryContext = new AlignmentRunRepositoryContext<T>(database, sagaContext, factory);
        await next.Send(repositoryContext);
        await database.CommitAsync(context.MessageId, context.CancellationToken);
    }

    // Every event correlates by run id, so MassTransit never needs to query by expression.
    public Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<AlignmentRunState> query, IPipe<SagaRepositoryQueryContext<AlignmentRunState, T>> next)
        where T : class =>
        throw new NotSupportedException("Alignment runs are correlated by id only.");

    public async Task<T> Execute<T>(Func<LoadSagaRepositoryContext<AlignmentRunState>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class
    {
        await using var database = await AlignmentRunDatabaseContext.BeginAsync(dataSource, cancellationToken);
        var result = await asyncMethod(new AlignmentRunLoadContext(database, cancellationToken));
        await database.CommitAsync(cancellationToken);
        return result;
    }
}
