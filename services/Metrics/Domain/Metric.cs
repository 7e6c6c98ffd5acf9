namespace MetricAlignment.Metrics.Domain;

public enum MetricKind { BuiltIn, Custom }

/// <summary>Quantitative metrics are scored on a numeric scale; qualitative ones with one of a fixed set of labels.</summary>
public enum MetricType { Quantitative, Qualitative }

/// <summary>Turn: each assistant turn is judged on its own. Conversation: the whole conversation gets one judgement.</summary>
public enum MetricScope { Turn, Conversation }

public enum VersionAuthorKind { Seed, Manual, AlignmentRun }

public sealed record Metric(
    Guid Id,
    string Key,
    string Name,
    string Description,
    MetricKind Kind,
    /// <summary>The custom metric's workspace; null for a built-in, which every workspace shares.</summary>
    string? Workspace,
    MetricType Type,
    MetricScope Scope,
    double? ScaleMin,
    double? ScaleMax,
    IReadOnlyList<string>? Labels,
    int CurrentVersion,
    ForkOrigin? ForkedFrom,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record ForkOrigin(Guid MetricId, string MetricKey, int Version);

public sealed record MetricVersion(
    Guid MetricId,
    int Version,
    string SystemPrompt,
    string UserPromptTemplate,
    VersionAuthor CreatedBy,
    string ChangeNote,
    DateTimeOffset CreatedAt);

public sealed record VersionAuthor(VersionAuthorKind Kind, string Author, Guid? AlignmentRunId);

/// <summary>The wire names used in the database (and, through the snake_case enum converter, in JSON).</summary>
public static class MetricNames
{
    public static string ToName(this MetricKind kind) => kind switch
    {
        MetricKind.BuiltIn => "built_in",
        MetricKind.Custom => "custom",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static string ToName(this MetricType type) => type switch
    {
        MetricType.Quantitative => "quantitative",
        MetricType.Qualitative => "qualitative",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static string ToName(this MetricScope scope) => scope switch
    {
        MetricScope.Turn => "turn",
        MetricScope.Conversation => "conversation",
        _ => throw new ArgumentOutOfRangeException(nameof(scope)),
    };

    public static string ToName(this VersionAuthorKind kind) => kind switch
    {
        VersionAuthorKind.Seed => "seed",
        VersionAuthorKind.Manual => "manual",
        VersionAuthorKind.AlignmentRun => "alignment_run",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static bool TryParseKind(string? value, out MetricKind kind) => TryParse(value, out kind, MetricKind.BuiltIn, MetricKind.Custom);
    public static bool TryParseType(string? value, out MetricType type) => TryParse(value, out type, MetricType.Quantitative, MetricType.Qualitative);
    public static bool TryParseScope(string? value, out MetricScope scope) => TryParse(value, out scope, MetricScope.Turn, MetricScope.Conversation);
    public static bool TryParseAuthorKind(string? value, out VersionAuthorKind kind) =>
        TryParse(value, out kind, VersionAuthorKind.Seed, VersionAuthorKind.Manual, VersionAuthorKind.AlignmentRun);

    public static MetricKind ParseKind(string value) => TryParseKind(value, out var v) ? v : throw Unknown(value);
    public static MetricType ParseType(string value) => TryParseType(value, out var v) ? v : throw Unknown(value);
    public static MetricScope ParseScope(string value) => TryParseScope(value, out var v) ? v : throw Unknown(value);
    public static VersionAuthorKind ParseAuthorKind(string value) => TryParseAuthorKind(value, out var v) ? v : throw Unknown(value);

    static bool TryParse<T>(string? value, out T result, params T[] candidates) where T : struct, Enum
    {
        foreach (var candidate in candidates)
        {
            if (string.Equals(Name(candidate), value?.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                result = candidate;
                return true;
            }
        }
        result = default;
        return false;
    }

    static string Name<T>(T value) where T : struct, Enum => value switch
    {
        MetricKind k => k.ToName(),
        MetricType t => t.ToName(),
        MetricScope s => s.ToName(),
        VersionAuthorKind a => a.ToName(),
        _ => throw new ArgumentOutOfRangeException(nameof(value)),
    };

    static InvalidOperationException Unknown(string value) => new($"Unknown stored value '{value}'.");
}
