using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.Worker;

namespace MetricAlignment.Alignment.Messages;

/// <summary>
/// Internal: a worker stopped an attempt because its run was cancelled, with what the attempt spent until then. The
/// saga keeps the tokens on the cancelled run: they were paid for, like a failed run's.
/// </summary>
public sealed record AlignmentRunStopped
{
    public required Guid RunId { get; init; }
    public required int Attempt { get; init; }
    /// <summary>The phase the worker was in; null before the first.</summary>
    public RunPhase? Phase { get; init; }
    public TokenUsage? TokenUsage { get; init; }
    public required DateTimeOffset At { get; init; }
}
