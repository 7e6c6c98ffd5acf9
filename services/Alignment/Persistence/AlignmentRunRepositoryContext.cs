using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Saga;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;

namespace MetricAlignment.Alignment.Persistence;

/// <summary>What MassTransit's saga pipeline calls for one message: insert, load, save, update, delete.</summary>
public sealed class AlignmentRunRepositoryContext<TMessage> : ConsumeContextScope<TMessage>, SagaRepositoryContext<AlignmentRunState, TMessage>
    where TMessage : class
{
    readonly AlignmentRunDatabaseContext database;
    readonly ConsumeContext<TMessage> consumeContext;
    readonly ISagaConsumeContextFactory<AlignmentRunDatabaseContext, AlignmentRunState> factory;

    public AlignmentRunRepositoryContext(AlignmentRunDatabaseContext database, ConsumeContext<TMessage> consumeContext,
        ISagaConsumeContextFactory<AlignmentRunDatabaseContext, AlignmentRunState> factory)
        // The database context as a payload lets activities join the saga's transaction.
        : base(consumeContext, database)
    {
        this.database = database;
        this.consumeContext = consumeContext;
        this.factory = factory;
    }

    public Task<SagaConsumeContext<AlignmentRunState, T>> CreateSagaConsumeContext<T>(ConsumeContext<T> context, AlignmentRunState instance,
        SagaConsumeContextMode mode) where T : class =>
        factory.CreateSagaConsumeContext(database, context, instance, mode);

    public Task<SagaConsumeContext<AlignmentRunState, TMessage>> Add(AlignmentRunState instance) =>
        factory.CreateSagaConsumeContext(database, consumeContext, instance, SagaConsumeContextMode.Add);

    public async Task<SagaConsumeContext<AlignmentRunState, TMessage>> Insert(AlignmentRunState instance)
    {
        if (!await database.InsertAsync(instance, CancellationToken))
            return default!;
        return await factory.CreateSagaConsumeContext(database, consumeContext, instance, SagaConsumeContextMode.Insert);
    }

    public async Task<SagaConsumeContext<AlignmentRunState, TMessage>> Load(Guid correlationId)
    {
        var instance = await database.LoadAsync(correlationId, CancellationToken);
        if (instance is null) return default!;
        return await factory.CreateSagaConsumeContext(database, consumeContext, instance, SagaConsumeContextMode.Load);
    }

    public async Task Save(SagaConsumeContext<AlignmentRunState> context)
    {
        if (!await database.InsertAsync(context.Saga, CancellationToken))
            throw new ConcurrencyException($"Alignment run {context.Saga.CorrelationId} was created concurrently.",
                typeof(AlignmentRunState), context.Saga.CorrelationId);
    }

    public Task Update(SagaConsumeContext<AlignmentRunState> context) => database.UpdateAsync(context.Saga, CancellationToken);

    public Task Delete(SagaConsumeContext<AlignmentRunState> context) => database.DeleteAsync(context.Saga, CancellationToken);

    // Nothing was written for a discarded or undone instance; the transaction rolls back if the message fails.
    public Task Discard(SagaConsumeContext<AlignmentRunState> context) => Task.CompletedTask;

    public Task Undo(SagaConsumeContext<AlignmentRunState> context) => Task.CompletedTask;
}

/// <summary>Loads outside a message (MassTransit's ILoadSagaRepository, used by tests and tooling).</summary>
public sealed class AlignmentRunLoadContext(AlignmentRunDatabaseContext database, CancellationToken cancellationToken)
    : BasePipeContext(cancellationToken), LoadSagaRepositoryContext<AlignmentRunState>
{
    public async Task<AlignmentRunState> Load(Guid correlationId) => (await database.LoadAsync(correlationId, CancellationToken))!;
}
