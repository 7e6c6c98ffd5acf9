using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using MassTransit;
using MassTransit.Serialization;
using Npgsql;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// Writes a message to publish into the caller's own transaction, so it goes out if and only if that transaction commits,
/// even when the process dies right after the commit: the <see cref="OutboxDispatcher"/> of any instance publishes it.
/// Needs the tables of <see cref="OutboxSchema.MigrationSql"/> and, to be published, <c>AddTransactionalOutbox()</c>.
/// </summary>
public static class TransactionalOutbox
{
    // RFC 4122 name-based ids live in a namespace; this one is the platform's, so keys cannot collide with other schemes.
    static readonly Guid MessageIdNamespace = Guid.Parse("8f4b8f0e-5f6a-4c55-9a51-2f0f4f7b1c3d");

    /// <summary>
    /// Adds <paramref name="message"/> to the outbox inside <paramref name="transaction"/> and notifies the dispatchers on
    /// commit. Published with MassTransit as <typeparamref name="T"/>, with <paramref name="messageId"/> (new when null) as
    /// its MessageId. Enqueueing an id that is already in the outbox does nothing, so a handler that is retried can pass an
    /// id derived from what it did (<see cref="MessageIdFor"/>) and still publish once.
    /// </summary>
    /// <returns>The message's MessageId.</returns>
    public static async Task<Guid> EnqueueAsync<T>(NpgsqlConnection connection, NpgsqlTransaction transaction, T message,
        Guid? messageId = null, OutboxCorrelation? correlation = null, CancellationToken cancellationToken = default)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(message);
        if (!ReferenceEquals(transaction.Connection, connection))
            throw new ArgumentException("The transaction does not belong to the connection (or has already completed).", nameof(transaction));
        var type = typeof(T);
        // The dispatcher rebuilds the message from its JSON, which an interface or an abstract type cannot be.
        if (type.IsInterface || type.IsAbstract)
            throw new ArgumentException($"Enqueue a concrete message type, not {type.Name}.", nameof(message));
        if (messageId == Guid.Empty) throw new ArgumentException("A message id cannot be empty.", nameof(messageId));

        var id = messageId ?? NewId.NextGuid();
        var headers = OutboxHeaders.Capture(correlation, Activity.Current);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO outbox_messages (id, message_type, body, headers)
            VALUES (@Id, @MessageType, @Body::jsonb, @Headers::jsonb)
            ON CONFLICT (id) DO NOTHING;
            SELECT pg_notify(@Channel, '');
            """,
            new
            {
                Id = id,
                MessageType = TypeName(type),
                Body = JsonSerializer.Serialize(message, type, SystemTextJsonMessageSerializer.Options),
                Headers = JsonSerializer.Serialize(headers, OutboxHeaders.Json),
                Channel = OutboxSchema.NotificationChannel,
            }, transaction, cancellationToken: cancellationToken));
        return id;
    }

    /// <summary>
    /// A stable MessageId for <paramref name="key"/> (an RFC 4122 version 5 UUID): the same key always gives the same id,
    /// so the event announcing one change has one id however often its handler runs, e.g. <c>MessageIdFor($"metric-forked:{runId}")</c>.
    /// </summary>
    public static Guid MessageIdFor(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var name = Encoding.UTF8.GetBytes(key);
        var input = new byte[16 + name.Length];
        MessageIdNamespace.TryWriteBytes(input, bigEndian: true, out _);
        name.CopyTo(input, 16);
        var hash = SHA1.HashData(input);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    // Without the assembly version, so a message enqueued before an upgrade is still published by the new build.
    internal static string TypeName(Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";
}

/// <summary>
/// What ties an outbox message to the conversation that caused it. Inside a consumer use <see cref="From"/>; the current
/// trace is captured in any case, so the publish and its consumers join the trace of the code that enqueued.
/// </summary>
public sealed record OutboxCorrelation
{
    public Guid? CorrelationId { get; init; }
    public Guid? ConversationId { get; init; }
    public Guid? InitiatorId { get; init; }

    /// <summary>Set for a request published through the outbox: its RequestId, and where the response should go.</summary>
    public Guid? RequestId { get; init; }

    public Uri? ResponseAddress { get; init; }

    /// <summary>Extra headers to publish with the message.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>The message being consumed is the new message's initiator; its conversation and correlation carry over.</summary>
    public static OutboxCorrelation From(ConsumeContext context) => new()
    {
        CorrelationId = context.CorrelationId,
        ConversationId = context.ConversationId,
        InitiatorId = context.MessageId,
    };
}

/// <summary>The headers column: correlation ids, W3C trace context and extra headers.</summary>
internal sealed record OutboxHeaders
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Guid? CorrelationId { get; init; }
    public Guid? ConversationId { get; init; }
    public Guid? InitiatorId { get; init; }
    public Guid? RequestId { get; init; }
    public Uri? ResponseAddress { get; init; }
    public string? TraceParent { get; init; }
    public string? TraceState { get; init; }
    public Dictionary<string, string>? Headers { get; init; }

    internal static OutboxHeaders Capture(OutboxCorrelation? correlation, Activity? activity) => new()
    {
        CorrelationId = correlation?.CorrelationId,
        ConversationId = correlation?.ConversationId,
        InitiatorId = correlation?.InitiatorId,
        RequestId = correlation?.RequestId,
        ResponseAddress = correlation?.ResponseAddress,
        TraceParent = activity is { IdFormat: ActivityIdFormat.W3C } ? activity.Id : null,
        TraceState = activity?.TraceStateString,
        Headers = correlation?.Headers is { Count: > 0 } extra ? new Dictionary<string, string>(extra) : null,
    };
}
