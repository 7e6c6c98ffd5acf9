using MassTransit;
using MassTransit.Context;
using MassTransit.Util;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Alignment.Persistence.Outbox;

/// <summary>
/// Where the saga's publishes end up: the pipe MassTransit built for the publish (the consume context's conversation and
/// initiator, the publisher's own settings such as a request's RequestId and ResponseAddress) runs against a detached
/// send context, and the message is kept with what that pipe set, for the outbox to publish it with.
/// </summary>
sealed class OutboxCaptureSendEndpoint(CapturedMessages captured) : ISendEndpoint
{
    public ConnectHandle ConnectSendObserver(ISendObserver observer) => new EmptyConnectHandle();

    public Task Send<T>(T message, CancellationToken cancellationToken = default) where T : class =>
        Capture(message, Pipe.Empty<SendContext<T>>(), cancellationToken);

    public Task Send<T>(T message, IPipe<SendContext<T>> pipe, CancellationToken cancellationToken = default) where T : class =>
        Capture(message, pipe, cancellationToken);

    public Task Send<T>(T message, IPipe<SendContext> pipe, CancellationToken cancellationToken = default) where T : class =>
        Capture(message, pipe, cancellationToken);

    public Task Send(object message, CancellationToken cancellationToken = default) =>
        throw Untyped();

    public Task Send(object message, Type messageType, CancellationToken cancellationToken = default) =>
        throw Untyped();

    public Task Send(object message, IPipe<SendContext> pipe, CancellationToken cancellationToken = default) =>
        throw Untyped();

    public Task Send(object message, Type messageType, IPipe<SendContext> pipe, CancellationToken cancellationToken = default) =>
        throw Untyped();

    public Task Send<T>(object values, CancellationToken cancellationToken = default) where T : class =>
        throw Untyped();

    public Task Send<T>(object values, IPipe<SendContext<T>> pipe, CancellationToken cancellationToken = default) where T : class =>
        throw Untyped();

    public Task Send<T>(object values, IPipe<SendContext> pipe, CancellationToken cancellationToken = default) where T : class =>
        throw Untyped();

    // MassTransit's publish endpoint resolves untyped publishes and initializers to a typed send before it gets here.
    static NotSupportedException Untyped() =>
        new("The AlignmentRun outbox captures typed messages only; publish the message as its concrete type.");

    async Task Capture<T>(T message, IPipe<SendContext<T>> pipe, CancellationToken cancellationToken) where T : class
    {
        var context = new MessageSendContext<T>(message, cancellationToken);
        await pipe.Send(context);
        Add(message, context);
    }

    async Task Capture<T>(T message, IPipe<SendContext> pipe, CancellationToken cancellationToken) where T : class
    {
        var context = new MessageSendContext<T>(message, cancellationToken);
        await pipe.Send(context);
        Add(message, context);
    }

    void Add<T>(T message, SendContext<T> context) where T : class
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var header in context.Headers.GetAll())
        {
            if (header.Value is string text) headers[header.Key] = text;
        }
        captured.Add(new CapturedMessage(typeof(T), message, new OutboxCorrelation
        {
            CorrelationId = context.CorrelationId,
            ConversationId = context.ConversationId,
            InitiatorId = context.InitiatorId,
            RequestId = context.RequestId,
            ResponseAddress = context.ResponseAddress,
            Headers = headers.Count > 0 ? headers : null,
        }));
    }
}
