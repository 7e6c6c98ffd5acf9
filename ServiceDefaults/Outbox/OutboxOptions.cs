namespace MetricAlignment.ServiceDefaults;

/// <summary>How the <see cref="OutboxDispatcher"/> works; bound from the "Outbox" configuration section.</summary>
public sealed class OutboxOptions
{
    public const string SectionName = "Outbox";

    /// <summary>
    /// The most rows one dispatch transaction locks and publishes; a crash republishes at most this many (the consumers'
    /// inbox drops the repeats). Batches are published one after the other, so under load a larger batch is what lets
    /// the publishes overlap: 100 with <see cref="PublishConcurrency"/> 16 held 400 runs' messages 4.9 s (p50) in the
    /// outbox, 500 with 64 held them 2.8 s and the runs finished a third sooner (bench/RESULTS.md, saga).
    /// </summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// How often the dispatcher looks without being notified: it catches a notification lost while its LISTEN connection
    /// was down, and a message whose retry delay has passed.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Publishes of one batch awaiting their broker confirmation at once. Messages of one conversation still go out one
    /// after the other, in order; this bounds how many conversations overlap. 1 publishes the whole batch in turn.
    /// </summary>
    public int PublishConcurrency { get; set; } = 64;

    /// <summary>How long one publish may take (broker confirmation included) before it counts as failed.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The first wait after a failure; it doubles with each consecutive failure up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a dispatched row is kept (to investigate what went out) before the clean-up deletes it.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How long a consumer remembers a processed message id. Redeliveries come within minutes; a republish of a message
    /// from an outbox comes at worst after that outbox's retention, so keep this the longer of the two.
    /// </summary>
    public TimeSpan InboxRetention { get; set; } = TimeSpan.FromDays(30);

    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromHours(1);

    internal void Validate()
    {
        static void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero) throw new InvalidOperationException($"{SectionName}:{name} must be positive; it is {value}.");
        }
        if (BatchSize is < 1 or > 10_000) throw new InvalidOperationException($"{SectionName}:BatchSize must be between 1 and 10000; it is {BatchSize}.");
        if (PublishConcurrency is < 1 or > 1_000)
            throw new InvalidOperationException($"{SectionName}:PublishConcurrency must be between 1 and 1000; it is {PublishConcurrency}.");
        Positive(PollInterval, nameof(PollInterval));
        Positive(PublishTimeout, nameof(PublishTimeout));
        Positive(RetryBaseDelay, nameof(RetryBaseDelay));
        Positive(RetryMaxDelay, nameof(RetryMaxDelay));
        Positive(Retention, nameof(Retention));
        Positive(InboxRetention, nameof(InboxRetention));
        Positive(CleanupInterval, nameof(CleanupInterval));
        if (RetryMaxDelay < RetryBaseDelay) throw new InvalidOperationException($"{SectionName}:RetryMaxDelay must not be shorter than RetryBaseDelay.");
    }

    /// <summary>The wait after <paramref name="failures"/> consecutive failures (1 = the first).</summary>
    internal TimeSpan RetryDelay(int failures)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        var delay = RetryBaseDelay.TotalMilliseconds * Math.Pow(2, exponent);
        return delay >= RetryMaxDelay.TotalMilliseconds ? RetryMaxDelay : TimeSpan.FromMilliseconds(delay);
    }
}
