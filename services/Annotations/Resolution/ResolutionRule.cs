namespace MetricAlignment.Annotations.Resolution;

/// <summary>How reviewers who disagree are reconciled without a person deciding, chosen per metric at import.</summary>
public enum ResolutionRule
{
    None,
    Median,
    Mean,
    Majority,
}

public static class ResolutionMethods
{
    public const string SingleReviewer = "single_reviewer";
    public const string Unanimous = "unanimous";
    public const string Explicit = "explicit";
    /// <summary>History only: an automatic value withdrawn because the reviewers no longer agree.</summary>
    public const string Unresolved = "unresolved";

    public static string Of(ResolutionRule rule) => rule.ToString().ToLowerInvariant();

    public static bool TryParseRule(string? text, out ResolutionRule rule)
    {
        rule = ResolutionRule.None;
        if (string.IsNullOrEmpty(text)) return true;
        // Enum.TryParse would also accept "2"; only the documented names are rules.
        return !char.IsDigit(text[0]) && Enum.TryParse(text, ignoreCase: true, out rule) && Enum.IsDefined(rule);
    }
}

/// <summary>An agreed value for a (row, metric): a score or a label, and how it was agreed.</summary>
public sealed record ResolvedValue(double? Score, string? Label, string Method);
