using MassTransit;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MetricAlignment.Alignment.Worker;

/// <summary>
/// Fails attempts that have been queued or running without a sign of life for longer than the stall timeout (a
/// worker that died and whose message was not redelivered, or no worker at all). Every instance sweeps; the saga
/// ignores the duplicates.
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
}
