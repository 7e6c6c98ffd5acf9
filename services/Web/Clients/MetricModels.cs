namespace MetricAlignment.Web.Clients;

// The Metrics service's shapes as this front end reads them; kinds stay strings so an unknown value shows rather than breaks.

public record MetricSummary
{
    public Guid Id { get; init; }
    public string Key { get; init; } = "";
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    /// <summary>built_in or custom.</summary>
    public string Kind { get; init; } = "";
    /// <summary>quantitative or qualitative.</summary>
    public string Type { get; init; } = "";
    public string Scope { get; init; } = "";
    public double? ScaleMin { get; init; }
    public double? ScaleMax { get; init; }
    public IReadOnlyList<string>? Labels { get; init; }
    public int CurrentVersion { get; init; }
    public ForkOrigin? ForkedFrom { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    public bool IsBuiltIn => Kind == "built_in";
    public bool IsQuantitative => Type == "quantitative";
}

public sealed record ForkOrigin(Guid MetricId, string MetricKey, int Version);

public sealed record MetricDetail : MetricSummary
{
    public MetricVersion? Current { get; init; }
}

public sealed record MetricVersion
{
    public Guid MetricId { get; init; }
    public int Version { get; init; }
    public string SystemPrompt { get; init; } = "";
    public string UserPromptTemplate { get; init; } = "";
    public VersionAuthor? CreatedBy { get; init; }
    public string ChangeNote { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The prompt as one text, as the diff compares it.</summary>
    public string FullPrompt => PromptText.Combine(SystemPrompt, UserPromptTemplate);
}

/// <summary>kind: seed, manual or alignment_run.</summary>
public sealed record VersionAuthor(string Kind, string Author, Guid? AlignmentRunId);

public static class PromptText
{
    public static string Combine(string systemPrompt, string userPromptTemplate) =>
        $"# System prompt\n{systemPrompt.TrimEnd()}\n\n# User prompt template\n{userPromptTemplate.TrimEnd()}";
}
