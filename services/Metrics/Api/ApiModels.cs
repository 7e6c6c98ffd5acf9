using MetricAlignment.Metrics.Domain;

namespace MetricAlignment.Metrics.Api;

public record MetricSummary
{
    public required Guid Id { get; init; }
    public required string Key { get; init; }
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required MetricKind Kind { get; init; }
    /// <summary>The custom metric's workspace; null for a built-in, which every workspace shares.</summary>
    public string? Workspace { get; init; }
    public required MetricType Type { get; init; }
    public required MetricScope Scope { get; init; }
    /// <summary>Lowest score of a quantitative metric; null for qualitative metrics.</summary>
    public double? ScaleMin { get; init; }
    /// <summary>Highest score of a quantitative metric; null for qualitative metrics.</summary>
    public double? ScaleMax { get; init; }
    /// <summary>The labels a qualitative metric assigns; null for quantitative metrics.</summary>
    public IReadOnlyList<string>? Labels { get; init; }
    public required int CurrentVersion { get; init; }
    public ForkedFrom? ForkedFrom { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }

    public static MetricSummary From(Metric metric) => new()
    {
        Id = metric.Id,
        Key = metric.Key,
        Name = metric.Name,
        Description = metric.Description,
        Kind = metric.Kind,
        Workspace = metric.Workspace,
        Type = metric.Type,
        Scope = metric.Scope,
        ScaleMin = metric.ScaleMin,
        ScaleMax = metric.ScaleMax,
        Labels = metric.Labels,
        CurrentVersion = metric.CurrentVersion,
        ForkedFrom = metric.ForkedFrom is { } origin ? new ForkedFrom(origin.MetricId, origin.MetricKey, origin.Version) : null,
        CreatedAt = metric.CreatedAt,
        UpdatedAt = metric.UpdatedAt,
    };
}

public sealed record ForkedFrom(Guid MetricId, string MetricKey, int Version);

public sealed record MetricDetail : MetricSummary
{
    public required VersionDetail Current { get; init; }

    public static MetricDetail From(Metric metric, MetricVersion current)
    {
        var summary = MetricSummary.From(metric);
        return new MetricDetail
        {
            Id = summary.Id,
            Key = summary.Key,
            Name = summary.Name,
            Description = summary.Description,
            Kind = summary.Kind,
            Workspace = summary.Workspace,
            Type = summary.Type,
            Scope = summary.Scope,
            ScaleMin = summary.ScaleMin,
            ScaleMax = summary.ScaleMax,
            Labels = summary.Labels,
            CurrentVersion = summary.CurrentVersion,
            ForkedFrom = summary.ForkedFrom,
            CreatedAt = summary.CreatedAt,
            UpdatedAt = summary.UpdatedAt,
            Current = VersionDetail.From(current),
        };
    }
}

public sealed record VersionDetail(
    Guid MetricId,
    int Version,
    string SystemPrompt,
    string UserPromptTemplate,
    CreatedBy CreatedBy,
    string ChangeNote,
    DateTimeOffset CreatedAt)
{
    public static VersionDetail From(MetricVersion version) => new(
        version.MetricId, version.Version, version.SystemPrompt, version.UserPromptTemplate,
        new CreatedBy(version.CreatedBy.Kind, version.CreatedBy.Author, version.CreatedBy.AlignmentRunId),
        version.ChangeNote, version.CreatedAt);
}

public sealed record CreatedBy(VersionAuthorKind Kind, string Author, Guid? AlignmentRunId);

/// <summary>
/// A new custom metric. type is quantitative (give scaleMin and scaleMax) or qualitative (give labels); scope is turn or
/// conversation. key is optional: derived from name when absent.
/// </summary>
public sealed record CreateMetricRequest
{
    public string? Key { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? Type { get; init; }
    public double? ScaleMin { get; init; }
    public double? ScaleMax { get; init; }
    public IReadOnlyList<string?>? Labels { get; init; }
    public string? Scope { get; init; }
    public string? SystemPrompt { get; init; }
    public string? UserPromptTemplate { get; init; }
    public string? Author { get; init; }
    public string? ChangeNote { get; init; }
}

/// <summary>
/// A new version of a custom metric. With expectedCurrentVersion the request is refused (409) when the metric has
/// moved past it, so that an edit made from a stale view never silently replaces a newer version.
/// </summary>
public sealed record PublishVersionRequest
{
    public string? SystemPrompt { get; init; }
    public string? UserPromptTemplate { get; init; }
    public string? Author { get; init; }
    public string? ChangeNote { get; init; }
    public int? ExpectedCurrentVersion { get; init; }
}

/// <summary>
/// A fork of any metric into a new custom metric. version: the version to fork (default the current one); prompts not
/// given are copied from it. key is optional: derived from name (made unique) when absent.
/// </summary>
public sealed record ForkMetricRequest
{
    public string? Name { get; init; }
    public string? Key { get; init; }
    public string? Description { get; init; }
    public int? Version { get; init; }
    public string? SystemPrompt { get; init; }
    public string? UserPromptTemplate { get; init; }
    public string? Author { get; init; }
    public string? ChangeNote { get; init; }
}
