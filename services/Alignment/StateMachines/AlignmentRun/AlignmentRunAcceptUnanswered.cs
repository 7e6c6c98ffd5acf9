namespace MetricAlignment.Alignment.StateMachines.AlignmentRun;

/// <summary>
/// The stalled-run sweeper found the run accepting for longer than Alignment:Worker:AcceptTimeout without an answer from
/// the Metrics service. The saga sends the fork/version request again (the Metrics service keys it by run id, so a
/// request that did arrive is answered again, not applied twice) until <see cref="MaxSends"/>, then gives the accept up.
/// </summary>
public sealed record AlignmentRunAcceptUnanswered
{
    public required Guid RunId { get; init; }
    /// <summary>
    /// The sends the sweeper saw. A report whose count the run has moved past (another instance's sweep, or one
    /// overtaken by a re-send) changes nothing, so several sweepers cannot burn the run's sends at once.
    /// </summary>
    public required int Sends { get; init; }
    public required int MaxSends { get; init; }
    public required TimeSpan Timeout { get; init; }
    public required DateTimeOffset At { get; init; }
}
