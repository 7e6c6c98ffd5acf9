using MassTransit;
using MassTransit.Context;
using MassTransit.Transports;

namespace MetricAlignment.Alignment.Persistence.Outbox;

/// <summary>
/// The consume context the AlignmentRun saga runs on when its messages go through the transactional outbox: a publish
/// is captured (<see cref="CapturedMessages"/>) instead of reaching the broker, and the repository writes it into the
/// outbox in the saga's transaction. Like MassTransit's in-memory outbox, it swaps the receive context's publish endpoint
/// provider, so every context the saga pipeline derives from this one publishes into the capture too.
/// </summary>
/// <remarks>
/// Only publishing is captured. Responses and sends go through the receive context's send endpoints as before (the
/// endpoint's in-memory outbox holds them until the message was consumed, so after the commit): the saga's only direct
/// send is the acknowledgement to a waiting request client, which has no use once its caller has gone.
/// </remarks>
public sealed class OutboxCaptureConsumeContext<TMessage> : ConsumeContextProxy<TMessage>
    where TMessage : class
{
    public OutboxCaptureConsumeContext(ConsumeContext<TMessage> context, CapturedMessages captured)
        : base(context)
    {
        var receiveContext = new OutboxCaptureReceiveContext(context.ReceiveContext, captured);
        ReceiveContext = receiveContext;
        PublishEndpointProvider = receiveContext.PublishEndpointProvider;
    }
}

sealed class OutboxCaptureReceiveContext(ReceiveContext context, CapturedMessages captured) : ReceiveContextProxy(context)
{
    public override IPublishEndpointProvider PublishEndpointProvider { get; } =
        new OutboxCapturePublishEndpointProvider(context.PublishEndpointProvider, captured);
}

sealed class OutboxCapturePublishEndpointProvider(IPublishEndpointProvider provider, CapturedMessages captured) : IPublishEndpointProvider
{
    public ConnectHandle ConnectPublishObserver(IPublishObserver observer) => provider.ConnectPublishObserver(observer);

    public Task<ISendEndpoint> GetPublishSendEndpoint<T>() where T : class => Task.FromResult<ISendEndpoint>(new OutboxCaptureSendEndpoint(captured));
}
