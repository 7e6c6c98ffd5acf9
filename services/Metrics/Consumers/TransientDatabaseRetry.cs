using MassTransit;
using Npgsql;

namespace MetricAlignment.Metrics.Consumers;

/// <summary>
/// Redelivers a message in-process when the database had a passing problem: a dropped connection, a deadlock or a
/// serialization failure, or a unique or exclusion violation (metric keys, 0002_workspaces.sql) lost to a concurrent
/// request (the retry then finds the winner's row).
/// Anything else faults at once: retrying a bug only delays the error queue.
/// </summary>
public static class TransientDatabaseRetry
{
    public static void Configure(IRetryConfigurator retry)
    {
        retry.Exponential(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300));
        retry.Handle<NpgsqlException>(e => e.IsTransient || e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ExclusionViolation });
        retry.Handle<TimeoutException>();
    }
}
