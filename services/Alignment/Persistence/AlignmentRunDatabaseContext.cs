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

    public Task<bool> InsertAsync(AlignmentRunState run, CancellationToken cancellationToken) =>
        AlignmentRunStore.InsertAsync(Connection, Transaction, run, cancellationToken);

    public Task<AlignmentRunState?> LoadAsync(Guid id, CancellationToken cancellationToken) =>
        AlignmentRunStore.LoadForUpdateAsync(Connection, Transaction, id, cancellationToken);

    public Task UpdateAsync(AlignmentRunState run, CancellationToken cancellationToken) =>
        AlignmentRunStore.UpdateAsync(Connection, Transaction, run, cancellationToken);

    public Task DeleteAsync(AlignmentRunState run, CancellationToken cancellationToken) =>
        AlignmentRunStore.DeleteAsync(Connection, Transaction, run.CorrelationId, cancellationToken);

    public Task CommitAsync(CancellationToken cancellationToken) => Transaction.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        // Disposing an uncommitted transaction rolls it back: a failed message leaves nothing half-written.
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
