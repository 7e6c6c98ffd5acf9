namespace MetricAlignment.Alignment.Worker;

/// <summary>Alignment:Worker settings.</summary>
public sealed class WorkerOptions
{
    public const string Section = "Alignment:Worker";

    /// <summary>
    /// Runs executed at once by one instance, also its prefetch: queued runs beyond it stay in the queue for other instances.
    /// A run spends most of its time waiting (the resolved-rows stream, the Metrics call, the saga's round trips, the
    /// model provider), so an instance's throughput is about ConcurrentRuns / run latency until its CPU is busy: 2 capped
    /// short runs at a few per second with the CPU mostly idle. Raising it costs memory (each run holds one bounded analyzer:
    /// fixed-size statistics and at most MaxTraces traces, tens of MB at the worst), a pooled database connection for
    /// moments between phases, and an Annotations stream while loading; model calls do not multiply, since every provider
    /// limits its own calls in flight (Alignment:Providers:*:MaxConcurrency). Lower it for instances with little memory and
    /// very large runs; raise it when runs mostly wait on a slow provider.
    /// </summary>
    public int ConcurrentRuns { get; set; } = 8;
    /// <summary>How often a running attempt reports that it is alive.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>Rows between progress reports while loading.</summary>
    public int ProgressEveryRows { get; set; } = 1000;
    /// <summary>A queued or running attempt silent for longer than this is failed by the sweeper.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(10);
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// A run accepting for longer than this without an answer from the Metrics service has its fork/version request sent
    /// again by the sweeper; after <see cref="AcceptSends"/> unanswered sends it goes back to Aligned so the user can retry.
    /// </summary>
    public TimeSpan AcceptTimeout { get; set; } = TimeSpan.FromMinutes(3);
    /// <summary>Fork/version requests sent for one accept (the first plus re-sends) before it is given up.</summary>
    public int AcceptSends { get; set; } = 3;
    /// <summary>Disagreement traces kept for distillation.</summary>
    public int MaxTraces { get; set; } = 200;
    /// <summary>Resolved rows one run may load; a larger selection fails the run instead of exhausting memory and LLM budget.</summary>
    public int MaxRowsPerRun { get; set; } = 1_000_000;
}
