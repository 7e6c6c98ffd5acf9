using Dapper;
using MassTransit;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MetricAlignment.Alignment.Worker;

/// <summary>
/// Fails attempts that have been queued or running without a sign of life for longer than the stall timeout (a
/// worker that died and whose message was not redelivered, or no worker at all), and reports accepts the Metrics service
/// has not answered within the accept timeout (the saga re-sends them, then gives them up). Every instance sweeps; the
/// saga ignores the duplicates.
/// </summary>
public sealed class StalledRunSweeper(
    NpgsqlDataSource dataSource,
    IBus bus,
    IOptions<WorkerOptions> options,
    ILogger<StalledRunSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var timer = new PeriodicTimer(settings.SweepInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(settings.StallTimeout, stoppingToken);
                await SweepAcceptsAsync(settings.AcceptTimeout, settings.AcceptSends, stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Sweeping stalled alignment runs failed; trying again next round");
            }
        }
    }

    public async Task<int> SweepAsync(TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var stalled = await AlignmentRunStore.FindStalledAsync(dataSource, now - stallTimeout, cancellationToken);
        foreach (var run in stalled)
        {
            RunPhase? phase = Enum.TryParse<RunPhase>(run.Phase, out var parsed) ? parsed : null;
            var since = new DateTimeOffset(DateTime.SpecifyKind(run.LastProgressAt, DateTimeKind.Utc));
            var detail = run.CurrentState == "Pending"
                ? $"No worker picked the run up: it waited since {since:u} (more than {stallTimeout}). Check that the Alignment service is running, then retry."
                : $"The worker stopped responding: no progress since {since:u} (more than {stallTimeout}). Retry the run.";
            logger.LogWarning("Failing stalled alignment run {RunId} attempt {Attempt}: {Detail}", run.CorrelationId, run.Attempt, detail);
            await bus.Publish(new AlignmentRunPhaseFailed
            {
                RunId = run.CorrelationId, Attempt = run.Attempt, Phase = phase, Detail = detail, At = now,
            }, cancellationToken);
        }
        return stalled.Count;
    }

    sealed record UnansweredAccept(Guid CorrelationId, int Sends);

    /// <summary>
    /// Reports every run accepting without an answer for longer than <paramref name="acceptTimeout"/> since its last
    /// send (the saga touches updated_at on each send). Returns how many were reported.
    /// </summary>
    public async Task<int> SweepAcceptsAsync(TimeSpan acceptTimeout, int maxSends, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        IReadOnlyList<UnansweredAccept> unanswered;
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            // Runs accepting since before sends were counted have no count in their document; the saga reads it as 0 too.
            unanswered = (await connection.QueryAsync<UnansweredAccept>(new CommandDefinition("""
                SELECT correlation_id AS CorrelationId, COALESCE((document->>'acceptSends')::integer, 0) AS Sends
                FROM alignment_runs
                WHERE current_state = 'Accepting' AND updated_at < @silentSince
                ORDER BY updated_at LIMIT 100
                """, new { silentSince = (now - acceptTimeout).ToUniversalTime() }, cancellationToken: cancellationToken))).ToList();
        }
        foreach (var run in unanswered)
        {
            logger.LogWarning("Alignment run {RunId}: the Metrics service did not answer accept request {Sends} of {MaxSends} within {Timeout}",
                run.CorrelationId, run.Sends, maxSends, acceptTimeout);
            await bus.Publish(new AlignmentRunAcceptUnanswered
            {
                RunId = run.CorrelationId, Sends = run.Sends, MaxSends = Math.Max(1, maxSends), Timeout = acceptTimeout, At = now,
            }, cancellationToken);
        }
        return unanswered.Count;
    }
}
