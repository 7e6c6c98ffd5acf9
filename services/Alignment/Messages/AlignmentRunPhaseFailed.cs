using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.Worker;

namespace MetricAlignment.Alignment.Messages;

/// <summary>Internal: an attempt failed in <see cref="Phase"/> (null when it never left the queue).</summary>
public sealed record AlignmentRunPhaseFailed
{
    public required Guid RunId { get; init; }
    public required int Attempt { get; init; }
    public RunPhase? Phase { get; init; }
    public required string Detail { get; init; }
    public required DateTimeOffset At { get; init; }
    /// <summary>
    /// The tokens the attempt spent before it failed (model calls are paid for even when the run fails); null when the
    /// attempt failed before its token meter existed, or when the stall sweeper reports a worker that stopped answering.
    /// </summary>
    public TokenUsage? TokenUsage { get; init; }
}
