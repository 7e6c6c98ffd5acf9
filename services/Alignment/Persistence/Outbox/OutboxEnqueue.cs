using System.Collections.Concurrent;
using System.Reflection;
using MetricAlignment.ServiceDefaults;
using Npgsql;

namespace MetricAlignment.Alignment.Persistence.Outbox;

/// <summary><see cref="TransactionalOutbox.EnqueueAsync"/> for a message whose type is known only at run time.</summary>
static class OutboxEnqueue
{
    delegate Task<Guid> Enqueue(NpgsqlConnection connection, NpgsqlTransaction transaction, object message, Guid? messageId,
        OutboxCorrelation correlation, CancellationToken cancellationToken);

    static readonly ConcurrentDictionary<Type, Enqueue> Enqueuers = new();

    static readonly MethodInfo Typed = typeof(OutboxEnqueue).GetMethod(nameof(EnqueueTyped), BindingFlags.NonPublic | BindingFlags.Static)!;

    public static Task<Guid> EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CapturedMessage captured, Guid? messageId,
        CancellationToken cancellationToken) =>
        Enqueuers.GetOrAdd(captured.MessageType, type => Typed.MakeGenericMethod(type).CreateDelegate<Enqueue>())(
            connection, transaction, captured.Message, messageId, captured.Correlation, cancellationToken);

    static Task<Guid> EnqueueTyped<T>(NpgsqlConnection connection, NpgsqlTransaction transaction, object message, Guid? messageId,
        OutboxCorrelation correlation, CancellationToken cancellationToken) where T : class =>
        TransactionalOutbox.EnqueueAsync(connection, transaction, (T)message, messageId, correlation, cancellationToken);
}
