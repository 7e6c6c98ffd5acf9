namespace MetricAlignment.Annotations.Metrics;

public enum MetricType
{
    Quantitative,
    Qualitative,
}

/// <summary>What this service needs to know about a metric owned by the Metrics service.</summary>
public sealed record MetricDefinition
{
    public required Guid Id { get; init; }
    public required string Key { get; init; }
    public required MetricType Type { get; init; }
    public double? ScaleMin { get; init; }
    public double? ScaleMax { get; init; }
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>Null when the value fits the metric; otherwise why it does not.</summary>
    public string? CheckValue(double? score, string? label)
    {
        if (score is not null && label is not null) return $"give either a score or a label for metric '{Key}', not both";
        if (Type == MetricType.Quantitative)
        {
            if (label is not null) return $"metric '{Key}' is quantitative: give a score, not a label";
            if (score is null) return $"a score is required for metric '{Key}'";
            if (double.IsNaN(score.Value) || double.IsInfinity(score.Value)) return $"score for metric '{Key}' is not a finite number";
            if ((ScaleMin is { } min && score < min) || (ScaleMax is { } max && score > max))
                return $"score {score} is outside the scale of metric '{Key}' ({ScaleMin}-{ScaleMax})";
            return null;
        }
        if (score is not null) return $"metric '{Key}' is qualitative: give a label, not a score";
        if (string.IsNullOrEmpty(label)) return $"a label is required for metric '{Key}'";
        if (Labels.Count > 0 && !Labels.Contains(label, StringComparer.Ordinal))
            return $"label '{label}' is not one of the labels of metric '{Key}' ({string.Join(", ", Labels)})";
        return null;
    }

    public bool Matches(string idOrKey) =>
        Guid.TryParse(idOrKey, out var id) ? id == Id : string.Equals(Key, idOrKey, StringComparison.Ordinal);
}
