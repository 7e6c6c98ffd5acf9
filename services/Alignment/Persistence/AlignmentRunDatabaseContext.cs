using MetricAlignment.Alignment.Persistence.Outbox;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using Npgsql;

namespace MetricAlignment.Alignment.Persistence;

/// <summary>
/// One ReadCommitted transaction per consumed message. Rows are locked when loaded (SELECT ... FOR UPDATE), so messages
/// for the same run wait for each other, even across processes, instead of failing and retrying.
/// </summary>
public sealed class AlignmentRunDatabaseContext : IAsyncDisposable
{
    AlignmentRunDatabaseContext(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        Connection = connection;
        Transaction = transaction;
    }

    public NpgsqlConnection Connection { get; }
    public NpgsqlTransaction Transaction { get; }

    /// <summary>What the saga published in this transaction, when the transactional outbox is on (else null).</summary>
    public CapturedMessages? Outbox { get; private set; }

    /// <summary>The run this transaction loaded or created: the captured messages' ids are derived from it.</summary>
    public Guid? RunId { get; private set; }

    /// <summary>From now on, what the saga publishes is written into the outbox by <see cref="CommitAsync(Guid?, CancellationToken)"/>.</summary>
    public CapturedMessages CaptureOutbox() => Outbox ??= new CapturedMessages();

    public static async Task<AlignmentRunDatabaseContext> BeginAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken);
            return new AlignmentRunDatabaseContext(connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public Task<bool> InsertAsync(AlignmentRunState run, CancellationToken cancellationToken)
    {
        RunId = run.CorrelationId;
        return AlignmentRunStore.InsertAsync(Connection, Transaction, run, cancellationToken);
    }

    public Task<AlignmentRunState?> LoadAsync(Guid id, CancellationToken cancellationToken)
    {
        RunId = id;
        return AlignmentRunStore.LoadForUpdateAsync(Connection, Transaction, id, cancellationToken);
    }

    public Task UpdateAsync(AlignmentRunState run, CancellationToken cancellationToken)
    {
        RunId = run.CorrelationId;
        return AlignmentRunStore.UpdateAsync(Connection, Transaction, run, cancellationToken);
    }

    public Task DeleteAsync(AlignmentRunState run, CancellationToken cancellationToken) =>
        AlignmentRunStore.DeleteAsync(Connection, Transaction, run.CorrelationId, cancellationToken);

    public Task CommitAsync(CancellationToken cancellationToken) => CommitAsync(null, cancellationToken);

    /// <summary>
    /// Writes what the saga published into the outbox, then commits: the run's new state and its messages become visible
    /// together, and the messages go out even if this process dies right after the commit. The row lock held since the
    /// load makes the messages of one run take outbox sequence numbers in commit order, which is the order they are published in.
    /// </summary>
    /// <param name="consumedMessageId">The MessageId of the message the saga handled, which the captured messages' ids derive from.</param>
    public async Task CommitAsync(Guid? consumedMessageId, CancellationToken cancellationToken)
    {
        if (Outbox is { Count: > 0 } outbox)
            await outbox.EnqueueAsync(Connection, Transaction, RunId ?? Guid.Empty, consumedMessageId, cancellationToken);
        await Transaction.CommitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        // Disposing an uncommitted transaction rolls it back: a failed message leaves nothing half-written.
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
