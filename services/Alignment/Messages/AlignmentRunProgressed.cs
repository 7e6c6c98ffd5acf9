using MetricAlignment.Alignment.Worker;

namespace MetricAlignment.Alignment.Messages;

/// <summary>
/// Internal: a worker entered <see cref="Phase"/> or, when the phase is unchanged, is still alive (heartbeat).
/// </summary>
public sealed record AlignmentRunProgressed
{
    public required Guid RunId { get; init; }
    public required int Attempt { get; init; }
    public required RunPhase Phase { get; init; }
    public required int RowsLoaded { get; init; }
    public required DateTimeOffset At { get; init; }
}
