namespace MetricAlignment.Alignment.Api;

/// <summary>
/// The broker did not take a run's command in time (or refused the connection). Deliberately not a TimeoutException:
/// ServiceDefaults' generic handler runs first and would answer without the run id the client needs to retry safely.
/// </summary>
public sealed class BrokerUnavailableException(Guid runId, string action, TimeSpan timeout, Exception? inner = null)
    : Exception($"The message broker did not take the {action} of alignment run {runId} within {timeout.TotalSeconds:0.#} s.", inner)
{
    public Guid RunId { get; } = runId;
    public string Action { get; } = action;
}
