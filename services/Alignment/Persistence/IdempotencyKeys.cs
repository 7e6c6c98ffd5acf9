using System.Data.Common;
using Dapper;
using Npgsql;

namespace MetricAlignment.Alignment.Persistence;

/// <summary>
/// The SQL of the idempotency_keys table (Migrations/0005_idempotency_keys.sql, 0006_idempotency_key_leases.sql): which
/// run an Idempotency-Key of a workspace reserved, for which request, and which request is processing it now. A request
/// takes the key with a lease on its row, each step a short statement on a pooled connection of its own: nothing is held
/// while the request validates itself against the other services or waits for the saga.
/// </summary>
public static class IdempotencyKeys
{
    public const string RetentionKey = "Alignment:Api:IdempotencyKeyRetention";
    public static readonly TimeSpan DefaultRetention = TimeSpan.FromHours(24);
    public const string LeaseKey = "Alignment:Api:IdempotencyKeyLease";
    /// <summary>
    /// Longer than a start takes: its validation calls, then (the lease renewed when the run id is reserved) the bus
    /// wait, bounded by Alignment:Api:BusTimeout (10 s by default). A shorter lease lets a repeat take over a request
    /// still running; both send the start under the same run id, so the saga still makes one run.
    /// </summary>
    public static readonly TimeSpan DefaultLease = TimeSpan.FromSeconds(60);
    /// <summary>Expired rows deleted per reservation: bounded, so one request never pays for a long backlog.</summary>
    const int PruneBatch = 500;
    /// <summary>A key released between the claim and the look at its row is claimed again, this many times at most.</summary>
    const int ClaimAttempts = 3;

    public static TimeSpan Retention(IConfiguration configuration) =>
        configuration.GetValue<TimeSpan?>(RetentionKey) is { } retention && retention > TimeSpan.Zero ? retention : DefaultRetention;

    public static TimeSpan Lease(IConfiguration configuration) =>
        configuration.GetValue<TimeSpan?>(LeaseKey) is { } lease && lease > TimeSpan.Zero ? lease : DefaultLease;

    /// <summary>
    /// The key's row. <see cref="RequestHash"/> is null while the key is bound to no request (its request is still being
    /// validated); <see cref="InProgress"/> says another request holds a live lease on it; <see cref="Started"/> that the
    /// saga acknowledged the start of <see cref="RunId"/>.
    /// </summary>
    public sealed record Entry(string? RequestHash, Guid RunId, bool InProgress, bool Started);

    /// <summary>Thrown by <see cref="Claim.ReserveAsync"/> when another request took the key over after this one's lease ran out.</summary>
    public sealed class LeaseLostException(string key) : Exception($"The lease on Idempotency-Key '{key}' ran out and another request took the key over.");

    /// <summary>
    /// Takes the key for one request: inserts its row, or takes over a row no live lease holds that is not yet started
    /// (a request refused, failed or killed before the saga acknowledged it) or is older than <paramref name="retention"/>
    /// (then it is replaced as a new key, with <paramref name="runId"/>). Returns the claim with the row it holds, or no
    /// claim and the row that refused it: in progress under another request's lease, or started.
    /// </summary>
    public static async Task<(Claim? Claim, Entry Entry)> ClaimAsync(NpgsqlDataSource dataSource, string workspace, string key, Guid runId,
        TimeSpan lease, TimeSpan retention, CancellationToken cancellationToken)
    {
        var leaseId = Guid.NewGuid();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        for (var attempt = 1; attempt <= ClaimAttempts; attempt++)
        {
            // SET reads the row as it was, so "expired" below is the old row's age.
            var claimed = await connection.QuerySingleOrDefaultAsync<Entry>(new CommandDefinition("""
                INSERT INTO idempotency_keys AS k (workspace, key, request_hash, run_id, created_at, lease_id, lease_until)
                VALUES (@workspace, @key, NULL, @runId, now(), @leaseId, now() + @lease)
                ON CONFLICT (workspace, key) DO UPDATE
                SET request_hash = CASE WHEN k.created_at <= now() - @retention THEN NULL ELSE k.request_hash END,
                    run_id = CASE WHEN k.created_at <= now() - @retention THEN EXCLUDED.run_id ELSE k.run_id END,
                    started_at = CASE WHEN k.created_at <= now() - @retention THEN NULL ELSE k.started_at END,
                    created_at = CASE WHEN k.created_at <= now() - @retention THEN EXCLUDED.created_at ELSE k.created_at END,
                    lease_id = EXCLUDED.lease_id, lease_until = EXCLUDED.lease_until
                WHERE (k.lease_until IS NULL OR k.lease_until <= now())
                  AND (k.started_at IS NULL OR k.created_at <= now() - @retention)
                RETURNING request_hash AS RequestHash, run_id AS RunId, false AS InProgress, started_at IS NOT NULL AS Started
                """, new { workspace, key, runId, leaseId, lease, retention }, cancellationToken: cancellationToken));
            if (claimed is not null)
                return (new Claim(dataSource, workspace, key, leaseId, lease, claimed), claimed);

            var taken = await connection.QuerySingleOrDefaultAsync<Entry>(new CommandDefinition("""
                SELECT request_hash AS RequestHash, run_id AS RunId, coalesce(lease_until > now(), false) AS InProgress,
                       started_at IS NOT NULL AND created_at > now() - @retention AS Started
                FROM idempotency_keys
                WHERE workspace = @workspace AND key = @key
                """, new { workspace, key, retention }, cancellationToken: cancellationToken));
            if (taken is not null && (taken.InProgress || taken.Started)) return (null, taken);
            // Released (or pruned) between the two statements: claim it again.
        }
        return (null, new Entry(null, Guid.Empty, InProgress: true, Started: false));
    }

    /// <summary>
    /// A request's lease on a key. Disposing it releases the key: a key bound to no request (the request was refused) is
    /// deleted, so the corrected request may use it; a reserved key keeps its run id and the fingerprint for the retry,
    /// and is marked started once <see cref="MarkStarted"/> said the saga acknowledged the start.
    /// </summary>
    public sealed class Claim(NpgsqlDataSource dataSource, string workspace, string key, Guid leaseId, TimeSpan lease, Entry entry) : IAsyncDisposable
    {
        bool started;

        /// <summary>The run id to start: reserved by an earlier request with the key, or chosen by this claim.</summary>
        public Guid RunId => entry.RunId;

        /// <summary>
        /// Binds the key to <paramref name="requestHash"/> and <see cref="RunId"/>, renews the lease for the bus wait, and
        /// prunes a batch of expired keys. Committed before the start is sent, so that whatever happens next, a retry finds
        /// the run id to send again rather than making a second run.
        /// </summary>
        public async Task ReserveAsync(string requestHash, TimeSpan retention, CancellationToken cancellationToken)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition("""
                DELETE FROM idempotency_keys
                WHERE ctid IN (SELECT ctid FROM idempotency_keys
                               WHERE created_at <= now() - @retention AND (lease_until IS NULL OR lease_until <= now())
                               LIMIT @batch)
                """, new { retention, batch = PruneBatch }, transaction, cancellationToken: cancellationToken));
            var reserved = await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE idempotency_keys
                SET request_hash = @requestHash, lease_until = now() + @lease,
                    created_at = CASE WHEN request_hash IS NULL THEN now() ELSE created_at END
                WHERE workspace = @workspace AND key = @key AND lease_id = @leaseId
                  AND (request_hash IS NULL OR request_hash = @requestHash)
                """, new { workspace, key, leaseId, requestHash, lease }, transaction, cancellationToken: cancellationToken));
            if (reserved != 1) throw new LeaseLostException(key);
            await transaction.CommitAsync(cancellationToken);
        }

        /// <summary>The saga acknowledged the start of <see cref="RunId"/> (or the run was found): repeats are answered with it.</summary>
        public void MarkStarted() => started = true;

        public async ValueTask DisposeAsync()
        {
            try
            {
                // Not the request's token: a client that hung up must not leave the key leased until the lease runs out.
                await using var connection = await dataSource.OpenConnectionAsync();
                await connection.ExecuteAsync(started
                    ? """
                      UPDATE idempotency_keys SET started_at = coalesce(started_at, now()), lease_id = NULL, lease_until = NULL
                      WHERE workspace = @workspace AND key = @key AND lease_id = @leaseId;
                      """
                    : """
                      DELETE FROM idempotency_keys WHERE workspace = @workspace AND key = @key AND lease_id = @leaseId AND request_hash IS NULL;
                      UPDATE idempotency_keys SET lease_id = NULL, lease_until = NULL WHERE workspace = @workspace AND key = @key AND lease_id = @leaseId;
                      """, new { workspace, key, leaseId });
            }
            catch (DbException)
            {
                // The lease runs out on its own: the answer already decided (a started run, a refusal) must not turn into
                // an error because the database did not take the release. Repeats meanwhile are told to retry.
            }
        }
    }
}
