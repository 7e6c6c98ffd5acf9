using System.Threading.RateLimiting;

namespace MetricAlignment.Alignment.Api;

/// <summary>
/// How many starts one instance works on at once (Alignment:Api:MaxConcurrentStarts); the rest wait their turn in order,
/// up to Alignment:Api:MaxQueuedStarts, beyond which a start is refused with 503 and Retry-After. A start calls the Metrics
/// and Annotations services and then waits for the saga: a thousand at once made a thousand calls to each service,
/// which timed out together, opened the circuit breakers and refused most of the starts, and put a thousand commands
/// in front of the running runs' progress reports on the saga's queue. Waiting in this queue costs a request nothing
/// but its socket.
/// </summary>
public sealed class StartAdmission : IDisposable
{
    public const string MaxConcurrentKey = "Alignment:Api:MaxConcurrentStarts";
    public const string MaxQueuedKey = "Alignment:Api:MaxQueuedStarts";
    public const int DefaultMaxConcurrent = 32;
    public const int DefaultMaxQueued = 5_000;

    readonly ConcurrencyLimiter limiter;

    public StartAdmission(IConfiguration configuration)
    {
        MaxConcurrent = configuration.GetValue(MaxConcurrentKey, DefaultMaxConcurrent);
        MaxQueued = configuration.GetValue(MaxQueuedKey, DefaultMaxQueued);
        if (MaxConcurrent < 1) throw new InvalidOperationException($"{MaxConcurrentKey} must be at least 1; it is {MaxConcurrent}.");
        if (MaxQueued < 0) throw new InvalidOperationException($"{MaxQueuedKey} must be 0 or more; it is {MaxQueued}.");
        limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = MaxConcurrent, QueueLimit = MaxQueued, QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public int MaxConcurrent { get; }
    public int MaxQueued { get; }

    /// <summary>A lease to dispose when the start is answered; not acquired when the queue is full.</summary>
    public ValueTask<RateLimitLease> EnterAsync(CancellationToken cancellationToken) => limiter.AcquireAsync(1, cancellationToken);

    public void Dispose() => limiter.Dispose();
}
