using MassTransit;

namespace MetricAlignment.Alignment.Api;

/// <summary>
/// Bounds the API's publishes and requests: with the broker down MassTransit waits for a connection indefinitely, and a
/// request that hangs until the client gives up tells it nothing. Past the timeout the call is cancelled (so the message is
/// not sent later behind the client's back) and the client is told to retry with 503.
/// </summary>
public static class BusCalls
{
    public const string BusTimeoutKey = "Alignment:Api:BusTimeout";
    public static readonly TimeSpan DefaultBusTimeout = TimeSpan.FromSeconds(10);

    public static TimeSpan BusTimeout(IConfiguration configuration) =>
        configuration.GetValue<TimeSpan?>(BusTimeoutKey) is { } timeout && timeout > TimeSpan.Zero ? timeout : DefaultBusTimeout;

    public static async Task PublishAsync<T>(this IPublishEndpoint publisher, T message, Guid runId, string action, TimeSpan timeout,
        CancellationToken cancellationToken) where T : class
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            // Publish may block its caller before it returns a task while the bus has no connection: start it on the pool.
            await Task.Run(() => publisher.Publish(message, deadline.Token), CancellationToken.None).WaitAsync(timeout, cancellationToken);
        }
        catch (Exception exception) when (IsBrokerFailure(exception, cancellationToken))
        {
            throw new BrokerUnavailableException(runId, action, timeout, exception);
        }
    }

    public static async Task<Response<TResponse>> RequestAsync<TRequest, TResponse>(this IRequestClient<TRequest> client, TRequest message,
        Guid runId, string action, TimeSpan timeout, CancellationToken cancellationToken) where TRequest : class where TResponse : class
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            // The request client does not notice the token while it waits for the broker connection, hence the await's own bound.
            // It may also block its caller before returning a task, so it is started on the pool.
            return await Task.Run(() => client.GetResponse<TResponse>(message, deadline.Token, RequestTimeout.After(ms: (int)timeout.TotalMilliseconds)),
                CancellationToken.None).WaitAsync(timeout, cancellationToken);
        }
        catch (Exception exception) when (exception is RequestTimeoutException || IsBrokerFailure(exception, cancellationToken))
        {
            throw new BrokerUnavailableException(runId, action, timeout, exception);
        }
    }

    /// <summary>Our deadline passing (not the client hanging up) or MassTransit failing to reach the broker.</summary>
    static bool IsBrokerFailure(Exception exception, CancellationToken requestAborted) =>
        exception is OperationCanceledException && !requestAborted.IsCancellationRequested
        || exception is TimeoutException or ConnectionException or TransportUnavailableException;
}
