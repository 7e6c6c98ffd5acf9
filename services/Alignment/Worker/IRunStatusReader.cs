using MetricAlignment.Alignment.Persistence;
using Npgsql;

namespace MetricAlignment.Alignment.Worker;

/// <summary>The worker's view of a run between phases: which state and attempt the saga holds.</summary>
public interface IRunStatusReader
{
    Task<AlignmentRunStore.RunStatus?> GetStatusAsync(Guid runId, CancellationToken cancellationToken);
}

public sealed class DatabaseRunStatusReader(NpgsqlDataSource dataSource) : IRunStatusReader
{
    public Task<AlignmentRunStore.RunStatus?> GetStatusAsync(Guid runId, CancellationToken cancellationToken) =>
        AlignmentRunStore.GetStatusAsync(dataSource, runId, cancellationToken);
}
