using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace MetricAlignment.Alignment.Persistence;

/// <summary>
/// The SQL of the idempotency_keys table (Migrations/0005_idempotency_keys.sql): which run an Idempotency-Key of a
/// workspace reserved, for which request.
/// </summary>
public static class IdempotencyKeys
{
    public const string RetentionKey = "Alignment:Api:IdempotencyKeyRetention";
    public static readonly TimeSpan DefaultRetention = TimeSpan.FromHours(24);
    /// <summary>Expired rows deleted per reservation: bounded, so one request never pays for a long backlog.</summary>
    const int PruneBatch = 500;

    public static TimeSpan Retention(IConfiguration configuration) =>
        configuration.GetValue<TimeSpan?>(RetentionKey) is { } retention && retention > TimeSpan.Zero ? retention : DefaultRetention;

    public sealed record Entry(string RequestHash, Guid RunId, DateTime CreatedAt);

    /// <summary>
    /// Holds the key for the whole request: a session advisory lock on a connection of its own. A second request with
    /// the same key (on any instance) finds it taken and is told to retry; a process that dies loses its connection and
    /// with it the lock, so a crash never leaves a key stuck "in progress".
    /// </summary>
    public static async Task<Held?> TryHoldAsync(NpgsqlDataSource dataSource, string workspace, string key, CancellationToken cancellationToken)
    {
        var lockId = LockId(workspace, key);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var taken = await connection.ExecuteScalarAsync<bool>(new CommandDefinition("SELECT pg_try_advisory_lock(@lockId)", new { lockId },
                cancellationToken: cancellationToken));
            if (taken) return new Held(connection, workspace, key, lockId);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        await connection.DisposeAsync();
        return null;
    }

    /// <summary>
    /// 64 bits of SHA-256 over the workspace and key. Another key sharing them would only be told to retry while this one
    /// is in progress; the odds are negligible, and the stored row, not the lock, decides what a key means.
    /// </summary>
    static long LockId(string workspace, string key) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes($"idempotency-key\n{workspace}\n{key}")), 0);

    public sealed class Held(NpgsqlConnection connection, string workspace, string key, long lockId) : IAsyncDisposable
    {
        /// <summary>The key's row unless it is older than <paramref name="retention"/> (then it is as good as gone).</summary>
        public Task<Entry?> FindAsync(TimeSpan retention, CancellationToken cancellationToken) =>
            connection.QuerySingleOrDefaultAsync<Entry?>(new CommandDefinition("""
                SELECT request_hash AS RequestHash, run_id AS RunId, created_at AS CreatedAt
                FROM idempotency_keys
                WHERE workspace = @workspace AND key = @key AND created_at > now() - @retention
                """, new { workspace, key, retention }, cancellationToken: cancellationToken));

        /// <summary>
        /// Records the key for <paramref name="runId"/>, replacing an expired row of the same key, and prunes a batch of
        /// expired keys. Committed before the start is sent, so that whatever happens next, a retry finds the run id to
        /// send again rather than making a second run.
        /// </summary>
        public async Task ReserveAsync(Guid runId, string requestHash, TimeSpan retention, CancellationToken cancellationToken)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition("""
                DELETE FROM idempotency_keys
                WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at <= now() - @retention LIMIT @batch)
                """, new { retention, batch = PruneBatch }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO idempotency_keys (workspace, key, request_hash, run_id, created_at)
                VALUES (@workspace, @key, @requestHash, @runId, now())
                ON CONFLICT (workspace, key) DO UPDATE
                SET request_hash = EXCLUDED.request_hash, run_id = EXCLUDED.run_id, created_at = EXCLUDED.created_at
                """, new { workspace, key, requestHash, runId }, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(@lockId)", new { lockId }));
            }
            finally
            {
                // Should the unlock fail on a live connection, Npgsql's reset of a pooled connection (DISCARD ALL)
                // releases session advisory locks before the connection is used again.
                await connection.DisposeAsync();
            }
        }
    }
}
