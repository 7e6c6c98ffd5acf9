using System.Collections.Concurrent;
using MetricAlignment.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace MetricAlignment.Alignment.Persistence.Outbox;

/// <summary>
/// Turns on the transactional outbox for the AlignmentRun saga: what a transition publishes is written to the outbox in
/// the transaction that saves the run, and the <see cref="OutboxDispatcher"/> publishes it once that committed.
/// Without it (a host that runs no dispatcher) the saga keeps MassTransit's in-memory outbox, which publishes right after
/// the commit but loses the messages if the process dies in between.
/// </summary>
public sealed class AlignmentRunOutbox
{
    /// <summary>The prefix of the keys the saga's deterministic message ids are derived from.</summary>
    public const string KeyPrefix = "alignment-run";

    /// <summary>
    /// The MessageId of the <paramref name="index"/>th message (of type <paramref name="messageType"/>) that the saga
    /// published while handling <paramref name="consumedMessageId"/> for run <paramref name="runId"/>: a redelivery of
    /// that message that publishes the same messages again gets the same ids, and the outbox keeps the first of each.
    /// </summary>
    public static Guid MessageIdFor(Guid runId, Guid consumedMessageId, int index, Type messageType) =>
        TransactionalOutbox.MessageIdFor($"{KeyPrefix}:{runId}:{consumedMessageId}:{index}:{messageType.FullName}");
}

public static class AlignmentRunOutboxRegistration
{
    /// <summary>
    /// Runs the outbox dispatcher (<see cref="OutboxExtensions.AddTransactionalOutbox"/>) and makes the saga's repository
    /// write the saga's messages into the outbox. Call it after AddServiceDatabase and AddMessageBus.
    /// </summary>
    public static TBuilder AddAlignmentRunOutbox<TBuilder>(this TBuilder builder, Action<OutboxOptions>? configure = null)
        where TBuilder : IHostApplicationBuilder
    {
        builder.AddTransactionalOutbox(configure);
        builder.Services.TryAddSingleton<AlignmentRunOutbox>();
        return builder;
    }
}

/// <summary>One message a saga transition published, held until the repository writes it with the run's row.</summary>
public sealed record CapturedMessage(Type MessageType, object Message, OutboxCorrelation Correlation);

/// <summary>The messages of one saga transaction, in the order the saga published them.</summary>
public sealed class CapturedMessages
{
    readonly ConcurrentQueue<CapturedMessage> messages = new();

    public int Count => messages.Count;

    public void Add(CapturedMessage message) => messages.Enqueue(message);

    public IReadOnlyList<CapturedMessage> ToList() => messages.ToArray();

    /// <summary>
    /// Writes the captured messages into the outbox inside the saga's transaction, in publish order, each with the id
    /// <see cref="AlignmentRunOutbox.MessageIdFor"/> gives it.
    /// </summary>
    public async Task EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid runId, Guid? consumedMessageId,
        CancellationToken cancellationToken)
    {
        // Without an id to derive from, a redelivery cannot be recognised; the outbox still publishes each message once.
        var index = 0;
        foreach (var captured in messages)
        {
            Guid? messageId = consumedMessageId is { } consumed
                ? AlignmentRunOutbox.MessageIdFor(runId, consumed, index, captured.MessageType)
                : null;
            await OutboxEnqueue.EnqueueAsync(connection, transaction, captured, messageId, cancellationToken);
            index++;
        }
    }
}
