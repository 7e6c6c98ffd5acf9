using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Dapper;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// Publishes what <see cref="TransactionalOutbox.EnqueueAsync"/> committed, with the enqueued MessageId and correlation,
/// and marks it dispatched. Messages of one conversation (the same ConversationId, or CorrelationId when it has none)
/// are published in enqueue order, each confirmed before the next; different conversations are published concurrently
/// (<see cref="OutboxOptions.PublishConcurrency"/>). Every instance of a service runs one: a batch is claimed with
/// <c>FOR UPDATE SKIP LOCKED</c>, so instances share the work and never publish a message concurrently. Publishing is
/// at least once: if the process dies after the broker confirmed a publish but before the batch committed, the message is
/// published again with the same MessageId, which is what the consumers' <see cref="Inbox"/> is for.
/// </summary>
/// <remarks>
/// Wakes on the NOTIFY an enqueue sends at commit, and polls every <see cref="OutboxOptions.PollInterval"/> for what a
/// notification did not announce (a message committed while no instance was running, a retry that became due).
/// A broker failure stops the batch and pauses the dispatcher with an exponential backoff, leaving the message first in
/// line; a message that cannot be rebuilt (its type no longer exists) is set aside with its own backoff so it does not
/// hold up the others.
/// </remarks>
public sealed class OutboxDispatcher : BackgroundService
{
    const int CleanupChunk = 1000;
    static readonly TimeSpan ListenHeartbeat = TimeSpan.FromSeconds(30);

    static readonly Counter<long> Dispatched = Telemetry.Meter.CreateCounter<long>(
        "outbox.messages.dispatched", "{message}", "Messages the transactional outbox published.");
    static readonly Counter<long> Failures = Telemetry.Meter.CreateCounter<long>(
        "outbox.dispatch.failures", "{failure}", "Outbox messages that failed to publish (broker) or to be rebuilt (poison), by kind.");

    readonly NpgsqlDataSource dataSource;
    readonly IBus bus;
    readonly OutboxOptions options;
    readonly ILogger<OutboxDispatcher> logger;
    readonly SemaphoreSlim wake = new(0, 1);
    DateTime nextCleanup = DateTime.MinValue;

    public OutboxDispatcher(NpgsqlDataSource dataSource, IBus bus, IOptions<OutboxOptions> options, ILogger<OutboxDispatcher> logger)
    {
        this.dataSource = dataSource;
        this.bus = bus;
        this.options = options.Value;
        this.options.Validate();
        this.logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!await SchemaReadyAsync(stoppingToken)) return;
        var listener = Task.Run(() => ListenAsync(stoppingToken), CancellationToken.None);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var batch = await DispatchBatchAsync(stoppingToken);
                if (batch.BrokerFailed)
                {
                    failures++;
                    await PauseAsync(options.RetryDelay(failures), stoppingToken);
                    continue;
                }
                failures = 0;
                // A full batch means more is probably waiting: go on without waiting for a notification.
                if (batch.Claimed >= options.BatchSize) continue;
                await CleanUpIfDueAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                failures++;
                var delay = options.RetryDelay(failures);
                logger.LogWarning(e, "Outbox dispatch failed ({Failures} in a row); retrying in {Delay}", failures, delay);
                await PauseAsync(delay, stoppingToken);
                continue;
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }

            try
            {
                await wake.WaitAsync(options.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await listener;
    }

    /// <summary>A service that forgot the migration must not run believing its events go out.</summary>
    async Task<bool> SchemaReadyAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                var ready = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                    "SELECT to_regclass('outbox_messages') IS NOT NULL AND to_regclass('inbox_messages') IS NOT NULL",
                    cancellationToken: stoppingToken));
                if (ready) return true;
                throw new InvalidOperationException(
                    $"The outbox tables are missing from this service's database. Copy {nameof(OutboxSchema)}.{nameof(OutboxSchema.MigrationSql)} " +
                    "into the service's Migrations folder as its next numbered script.");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return false;
            }
            catch (NpgsqlException e) when (e.IsTransient)
            {
                var delay = options.RetryDelay(attempt);
                logger.LogWarning(e, "Outbox dispatcher cannot reach its database; retrying in {Delay}", delay);
                if (!await PauseAsync(delay, stoppingToken)) return false;
            }
        }
    }

    readonly record struct BatchResult(int Claimed, bool BrokerFailed);

    async Task<BatchResult> DispatchBatchAsync(CancellationToken stoppingToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
        await using var transaction = await connection.BeginTransactionAsync(stoppingToken);
        // The row locks are the claim: a second instance skips these rows and takes the next ones, and sees them
        // dispatched once this transaction commits.
        var rows = (await connection.QueryAsync<(Guid Id, string MessageType, string Body, string Headers, int Attempts)>(new CommandDefinition("""
            SELECT id, message_type, body::text, headers::text, attempts
            FROM outbox_messages
            WHERE dispatched_at IS NULL AND next_attempt_at <= now()
            ORDER BY sequence
            LIMIT @BatchSize
            FOR UPDATE SKIP LOCKED
            """, new { options.BatchSize }, transaction, cancellationToken: stoppingToken))).AsList();
        if (rows.Count == 0) return new BatchResult(0, false);

        // Rebuilt one by one on this connection first: a poison row is set aside (a write in this transaction) before publishing.
        var ready = new List<ReadyMessage>(rows.Count);
        foreach (var row in rows)
        {
            try
            {
                var type = Type.GetType(row.MessageType, throwOnError: true)!;
                var message = JsonSerializer.Deserialize(row.Body, type, SystemTextJsonMessageSerializer.Options)
                    ?? throw new JsonException("The message body is null.");
                var headers = JsonSerializer.Deserialize<OutboxHeaders>(row.Headers, OutboxHeaders.Json) ?? new OutboxHeaders();
                ready.Add(new ReadyMessage(row.Id, type, message, headers, row.Attempts));
            }
            catch (Exception e)
            {
                var delay = options.RetryDelay(row.Attempts + 1);
                Failures.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.Kind, "poison"));
                logger.LogError(e, "Outbox message {MessageId} of type {MessageType} cannot be rebuilt (attempt {Attempt}); it is set aside for {Delay}",
                    row.Id, row.MessageType, row.Attempts + 1, delay);
                await RecordFailureAsync(connection, transaction, row.Id,
                    new InvalidOperationException($"Cannot rebuild a {row.MessageType} from the outbox.", e), delay);
            }
        }

        using var publishing = new BatchPublishing(options.PublishConcurrency, stoppingToken);
        // Waiting for each broker confirmation in turn would make the outbox's throughput one message per round trip,
        // which under load is far below what the services commit. Messages of different conversations do not depend on
        // each other, so their publishes overlap; those of one conversation (a run's events, a request and what it
        // caused) keep their enqueue order, one confirmed before the next starts.
        await Task.WhenAll(ready.GroupBy(m => m.Headers.ConversationId ?? m.Headers.CorrelationId)
            .Select(conversation => PublishInOrderAsync(conversation, publishing)));

        if (publishing.Failed is { } failed)
            await RecordFailureAsync(connection, transaction, failed.Message.Id, failed.Error, retryAfter: null);
        var dispatched = publishing.Dispatched.ToList();
        // Marked even while stopping: these were published, and re-publishing them after a restart is what this avoids.
        if (dispatched.Count > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE outbox_messages SET dispatched_at = now(), attempts = attempts + 1 WHERE id = ANY(@Ids)
                """, new { Ids = dispatched.ToArray() }, transaction));
        }
        await transaction.CommitAsync(CancellationToken.None);
        if (dispatched.Count > 0)
        {
            Dispatched.Add(dispatched.Count);
            logger.LogDebug("Outbox published {Count} message(s)", dispatched.Count);
        }
        return new BatchResult(rows.Count, publishing.Failed is not null);
    }

    sealed record ReadyMessage(Guid Id, Type Type, object Message, OutboxHeaders Headers, int Attempts);

    sealed record PublishFailure(ReadyMessage Message, Exception Error);

    /// <summary>The shared state of one batch's publishes: what went out, the first broker failure, and the concurrency limit.</summary>
    sealed class BatchPublishing(int concurrency, CancellationToken stoppingToken) : IDisposable
    {
        PublishFailure? failed;

        public SemaphoreSlim Slots { get; } = new(concurrency, concurrency);
        public System.Collections.Concurrent.ConcurrentQueue<Guid> Dispatched { get; } = new();
        public PublishFailure? Failed => Volatile.Read(ref failed);

        /// <summary>On shutdown, or once the broker failed, no further publish starts; those in flight finish.</summary>
        public bool Stopped => stoppingToken.IsCancellationRequested || Failed is not null;

        /// <summary>Keeps the first failure: that message is recorded as failed and stays first in line.</summary>
        public void Fail(ReadyMessage message, Exception error) => Interlocked.CompareExchange(ref failed, new PublishFailure(message, error), null);

        public void Dispose() => Slots.Dispose();
    }

    async Task PublishInOrderAsync(IEnumerable<ReadyMessage> conversation, BatchPublishing publishing)
    {
        foreach (var message in conversation)
        {
            // On shutdown, finish the messages in hand but start no other: the host's grace period is short.
            if (publishing.Stopped) return;
            await publishing.Slots.WaitAsync(CancellationToken.None);
            try
            {
                if (publishing.Stopped) return;
                await PublishAsync(message.Id, message.Type, message.Message, message.Headers);
                publishing.Dispatched.Enqueue(message.Id);
            }
            catch (Exception e)
            {
                // The broker (or the way to it) failed, not this message: it stays first in line for when the broker is back,
                // and the rest of its conversation waits behind it.
                publishing.Fail(message, e);
                Failures.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.Kind, "publish"));
                logger.LogWarning(e, "Publishing outbox message {MessageId} ({MessageType}) failed (attempt {Attempt}); the outbox pauses",
                    message.Id, message.Type.Name, message.Attempts + 1);
                return;
            }
            finally
            {
                publishing.Slots.Release();
            }
        }
    }

    async Task PublishAsync(Guid messageId, Type type, object message, OutboxHeaders headers)
    {
        // The publish (and so its consumers) continues the trace of the code that enqueued the message.
        ActivityContext.TryParse(headers.TraceParent, headers.TraceState, out var parent);
        using var activity = Telemetry.ActivitySource.StartActivity("outbox publish", ActivityKind.Internal, parent);
        activity?.SetTag("messaging.message.id", messageId).SetTag("messaging.message.type", type.Name);

        // Not the stopping token: a publish cut short may still reach the broker, and would then go out twice.
        using var timeout = new CancellationTokenSource(options.PublishTimeout);
        await bus.Publish(message, type, Pipe.Execute<PublishContext>(context =>
        {
            context.MessageId = messageId;
            if (headers.CorrelationId is { } correlationId) context.CorrelationId = correlationId;
            if (headers.ConversationId is { } conversationId) context.ConversationId = conversationId;
            if (headers.InitiatorId is { } initiatorId) context.InitiatorId = initiatorId;
            if (headers.RequestId is { } requestId) context.RequestId = requestId;
            if (headers.ResponseAddress is { } responseAddress) context.ResponseAddress = responseAddress;
            if (headers.Headers is { } extra)
            {
                foreach (var (key, value) in extra) context.Headers.Set(key, value);
            }
        }), timeout.Token);
    }

    static Task RecordFailureAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, Exception error, TimeSpan? retryAfter) =>
        connection.ExecuteAsync(new CommandDefinition("""
            UPDATE outbox_messages
            SET attempts = attempts + 1,
                last_error = @Error,
                next_attempt_at = CASE WHEN @RetryAfter::interval IS NULL THEN next_attempt_at ELSE now() + @RetryAfter::interval END
            WHERE id = @Id
            """, new { Id = id, Error = Describe(error), RetryAfter = retryAfter }, transaction));

    static string Describe(Exception error)
    {
        var text = $"{error.GetType().Name}: {error.Message}";
        if (error.InnerException is { } inner) text += $" ---> {inner.GetType().Name}: {inner.Message}";
        return text.Length <= 2000 ? text : text[..2000];
    }

    /// <summary>Deletes, in small chunks so no lock is held long, dispatched messages and remembered ids past their retention.</summary>
    async Task CleanUpIfDueAsync(CancellationToken stoppingToken)
    {
        if (DateTime.UtcNow < nextCleanup) return;
        nextCleanup = DateTime.UtcNow + options.CleanupInterval;
        await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
        int outbox = 0, inbox = 0, deleted;
        do
        {
            deleted = await connection.ExecuteAsync(new CommandDefinition("""
                DELETE FROM outbox_messages WHERE id IN (
                    SELECT id FROM outbox_messages WHERE dispatched_at < now() - @Retention LIMIT @Chunk)
                """, new { options.Retention, Chunk = CleanupChunk }, cancellationToken: stoppingToken));
            outbox += deleted;
        } while (deleted == CleanupChunk);
        do
        {
            deleted = await connection.ExecuteAsync(new CommandDefinition("""
                DELETE FROM inbox_messages WHERE (consumer, message_id) IN (
                    SELECT consumer, message_id FROM inbox_messages WHERE processed_at < now() - @InboxRetention LIMIT @Chunk)
                """, new { options.InboxRetention, Chunk = CleanupChunk }, cancellationToken: stoppingToken));
            inbox += deleted;
        } while (deleted == CleanupChunk);
        if (outbox + inbox > 0)
            logger.LogInformation("Outbox clean-up deleted {OutboxCount} dispatched message(s) and {InboxCount} inbox record(s)", outbox, inbox);
    }

    /// <summary>Turns the NOTIFY of each committed enqueue into a wake-up; reconnects when its connection drops.</summary>
    async Task ListenAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, _) => Wake();
                await connection.ExecuteAsync(new CommandDefinition($"LISTEN {OutboxSchema.NotificationChannel}", cancellationToken: stoppingToken));
                failures = 0;
                // Whatever was committed while this connection was not listening gets looked at now, not at the next poll.
                Wake();
                while (true)
                {
                    // A silent connection may be a dead one: check it now and then so notifications do not stop unnoticed.
                    if (!await connection.WaitAsync(ListenHeartbeat, stoppingToken))
                        await connection.ExecuteAsync(new CommandDefinition("SELECT 1", cancellationToken: stoppingToken));
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                failures++;
                var delay = options.RetryDelay(failures);
                logger.LogWarning(e, "The outbox lost its notification connection; polling until it reconnects in {Delay}", delay);
                await PauseAsync(delay, stoppingToken);
            }
        }
    }

    void Wake()
    {
        try
        {
            if (wake.CurrentCount == 0) wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already awake.
        }
    }

    static async Task<bool> PauseAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, stoppingToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public override void Dispose()
    {
        wake.Dispose();
        base.Dispose();
    }
}
