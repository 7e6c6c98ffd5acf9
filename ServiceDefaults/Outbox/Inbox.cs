using Dapper;
using MassTransit;
using Npgsql;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// Makes a consumer idempotent: it records the message id in the same transaction as the consumer's effects, so a
/// redelivered (or republished) message is recognised and skipped. Needs the tables of <see cref="OutboxSchema.MigrationSql"/>;
/// <c>AddTransactionalOutbox()</c> forgets ids older than <see cref="OutboxOptions.InboxRetention"/>.
/// </summary>
public static class Inbox
{
    /// <summary>
    /// True when <paramref name="consumer"/> has not processed <paramref name="messageId"/> yet: go ahead, and commit.
    /// False when it has: do nothing (the effects of the first delivery are already committed). While another delivery
    /// of the same message is in flight this waits for it, and returns true only if that one rolled back.
    /// </summary>
    public static async Task<bool> TryBeginAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string consumerName,
        Guid messageId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentException.ThrowIfNullOrWhiteSpace(consumerName);
        if (!ReferenceEquals(transaction.Connection, connection))
            throw new ArgumentException("The transaction does not belong to the connection (or has already completed).", nameof(transaction));
        if (messageId == Guid.Empty) throw new ArgumentException("A message id cannot be empty.", nameof(messageId));

        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO inbox_messages (consumer, message_id) VALUES (@Consumer, @MessageId)
            ON CONFLICT (consumer, message_id) DO NOTHING
            """, new { Consumer = consumerName, MessageId = messageId }, transaction, cancellationToken: cancellationToken));
        return inserted == 1;
    }

    /// <summary><see cref="TryBeginAsync(NpgsqlConnection, NpgsqlTransaction, string, Guid, CancellationToken)"/> for the message being consumed.</summary>
    public static Task<bool> TryBeginAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string consumerName,
        ConsumeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var messageId = context.MessageId
            ?? throw new InvalidOperationException("The message has no MessageId, so a redelivery of it cannot be recognised.");
        return TryBeginAsync(connection, transaction, consumerName, messageId, context.CancellationToken);
    }
}
