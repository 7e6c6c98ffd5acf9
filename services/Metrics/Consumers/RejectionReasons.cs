using MetricAlignment.Contracts;
using MetricAlignment.Metrics.Domain;

namespace MetricAlignment.Metrics.Consumers;

/// <summary>The <see cref="MetricChangeRejected.Reason"/> values the Alignment service acts on.</summary>
public static class RejectionReasons
{
    public const string MetricNotFound = "metric_not_found";
    public const string BuiltInMetric = "built_in_metric";
    public const string VersionConflict = "version_conflict";
    public const string InvalidPrompt = "invalid_prompt";

    public static MetricChangeRejected From(Guid runId, Guid metricId, ChangeRefused refused) => new()
    {
        RunId = runId,
        MetricId = metricId,
        Reason = refused.Reason switch
        {
            // A missing base version means the run refers to a metric state that does not exist: same remedy for the run.
            ChangeRefusal.MetricNotFound or ChangeRefusal.VersionNotFound => MetricNotFound,
            ChangeRefusal.BuiltInMetric => BuiltInMetric,
            ChangeRefusal.VersionConflict => VersionConflict,
            // Bus forks derive their key, so a duplicate cannot reach here; refuse clearly rather than fault if it ever does.
            ChangeRefusal.DuplicateKey => InvalidPrompt,
            _ => throw new ArgumentOutOfRangeException(nameof(refused)),
        },
        Detail = refused.Detail,
        CurrentVersion = refused.Metric?.CurrentVersion,
        ExpectedVersion = refused.ExpectedVersion,
    };

    /// <summary>A request naming a workspace that is not a valid slug: no metric can belong to it.</summary>
    public static MetricChangeRejected UnknownWorkspace(Guid runId, Guid metricId, string? workspace) => new()
    {
        RunId = runId,
        MetricId = metricId,
        Reason = MetricNotFound,
        Detail = $"No metric has id '{metricId}' in workspace '{workspace}'.",
    };
}
