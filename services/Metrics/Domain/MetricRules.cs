using System.Text;
using System.Text.RegularExpressions;

namespace MetricAlignment.Metrics.Domain;

/// <summary>
/// What a metric and a version must look like. The limits are documented in the API: a request breaking them gets
/// a 400 naming the offending fields (or, on the bus, a MetricChangeRejected with reason invalid_prompt).
/// </summary>
public static partial class MetricRules
{
    public const int MaxKeyLength = 64;
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 4_000;
    public const int MaxPromptLength = 100_000;
    public const int MaxAuthorLength = 200;
    public const int MaxChangeNoteLength = 4_000;
    public const int MaxLabels = 50;
    public const int MaxLabelLength = 100;

    /// <summary>What a user prompt template may reference; the judge runner fills them from the scored row.</summary>
    public static readonly IReadOnlyList<string> Placeholders = ["input", "output", "context"];

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex KeyPattern();

    [GeneratedRegex(@"\{\{\s*([^{}\s]*)\s*\}\}")]
    private static partial Regex PlaceholderPattern();

    /// <summary>
    /// A key from a name: lower-case letters and digits, runs of anything else become one hyphen
    /// ("Relevance (summary)" -> "relevance-summary"). Null when the name has no letter or digit to build one from.
    /// </summary>
    public static string? DeriveKey(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        var key = new StringBuilder();
        var separatorPending = false;
        foreach (var c in name.ToLowerInvariant())
        {
            if (c is >= 'a' and <= 'z' or >= '0' and <= '9')
            {
                if (separatorPending && key.Length > 0) key.Append('-');
                separatorPending = false;
                key.Append(c);
            }
            else
            {
                separatorPending = true;
            }
        }
        var derived = key.Length > MaxKeyLength ? key.ToString(0, MaxKeyLength).TrimEnd('-') : key.ToString();
        if (derived.Length == 0) return null;
        // A key that reads as a Guid would be ambiguous in /api/metrics/{idOrKey}.
        return Guid.TryParse(derived, out _) ? "metric-" + derived[..Math.Min(derived.Length, MaxKeyLength - 7)].TrimEnd('-') : derived;
    }

    /// <summary>The key with a numeric suffix, kept within the length limit: "fluency-aligned" -> "fluency-aligned-2".</summary>
    public static string WithSuffix(string key, int suffix)
    {
        var tail = "-" + suffix;
        return key.Length + tail.Length <= MaxKeyLength ? key + tail : key[..(MaxKeyLength - tail.Length)].TrimEnd('-') + tail;
    }

    public static void ValidateKey(string? key, ValidationErrors errors, string field = "key")
    {
        if (key is null) return;
        if (key.Length == 0 || key.Length > MaxKeyLength || !KeyPattern().IsMatch(key))
            errors.Add(field, $"A key is 1-{MaxKeyLength} lower-case letters, digits and single hyphens between them, e.g. 'answer-relevance'.");
        else if (Guid.TryParse(key, out _))
            errors.Add(field, "A key must not be a GUID: it would be read as a metric id.");
    }

    public static void ValidateName(string? name, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(name)) errors.Add("name", "A name is required.");
        else if (name.Trim().Length > MaxNameLength) errors.Add("name", $"A name is at most {MaxNameLength} characters.");
    }

    public static void ValidateDescription(string? description, ValidationErrors errors)
    {
        if (description is not null && description.Length > MaxDescriptionLength)
            errors.Add("description", $"A description is at most {MaxDescriptionLength} characters.");
    }

    public static void ValidateAuthor(string? author, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(author)) errors.Add("author", "An author is required: who is making this change.");
        else if (author.Trim().Length > MaxAuthorLength) errors.Add("author", $"An author is at most {MaxAuthorLength} characters.");
    }

    public static void ValidateChangeNote(string? changeNote, ValidationErrors errors, bool required)
    {
        if (string.IsNullOrWhiteSpace(changeNote))
        {
            if (required) errors.Add("changeNote", "A change note is required: say what changed and why.");
        }
        else if (changeNote.Trim().Length > MaxChangeNoteLength)
        {
            errors.Add("changeNote", $"A change note is at most {MaxChangeNoteLength} characters.");
        }
    }

    public static void ValidatePrompts(string? systemPrompt, string? userPromptTemplate, ValidationErrors errors)
    {
        ValidateSystemPrompt(systemPrompt, errors);
        ValidateUserPromptTemplate(userPromptTemplate, errors);
    }

    public static void ValidateSystemPrompt(string? systemPrompt, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(systemPrompt)) errors.Add("systemPrompt", "A system prompt is required.");
        else if (systemPrompt.Length > MaxPromptLength) errors.Add("systemPrompt", $"A system prompt is at most {MaxPromptLength:N0} characters.");
    }

    public static void ValidateUserPromptTemplate(string? userPromptTemplate, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(userPromptTemplate))
        {
            errors.Add("userPromptTemplate", "A user prompt template is required.");
            return;
        }
        if (userPromptTemplate.Length > MaxPromptLength)
        {
            errors.Add("userPromptTemplate", $"A user prompt template is at most {MaxPromptLength:N0} characters.");
            return;
        }
        var referenced = PlaceholderPattern().Matches(userPromptTemplate).Select(m => m.Groups[1].Value).ToList();
        var unknown = referenced.Where(p => !Placeholders.Contains(p)).Distinct().ToList();
        if (unknown.Count > 0)
            errors.Add("userPromptTemplate", $"Unknown placeholder(s) {string.Join(", ", unknown.Select(p => "{{" + p + "}}"))}; "
                + $"a template may reference {string.Join(", ", Placeholders.Select(p => "{{" + p + "}}"))}.");
        else if (referenced.Count == 0)
            errors.Add("userPromptTemplate", "The template must reference the scored row with at least one of "
                + string.Join(", ", Placeholders.Select(p => "{{" + p + "}}")) + ".");
    }

    /// <summary>The scale or the labels of a metric, normalised: labels trimmed, in the order given.</summary>
    public static (double? Min, double? Max, IReadOnlyList<string>? Labels) ValidateScale(
        MetricType? type, double? scaleMin, double? scaleMax, IReadOnlyList<string?>? labels, ValidationErrors errors)
    {
        switch (type)
        {
            case MetricType.Quantitative:
                if (labels is { Count: > 0 }) errors.Add("labels", "A quantitative metric has a numeric scale, not labels.");
                if (scaleMin is null) errors.Add("scaleMin", "A quantitative metric needs scaleMin.");
                else if (!double.IsFinite(scaleMin.Value)) errors.Add("scaleMin", "scaleMin must be a finite number.");
                if (scaleMax is null) errors.Add("scaleMax", "A quantitative metric needs scaleMax.");
                else if (!double.IsFinite(scaleMax.Value)) errors.Add("scaleMax", "scaleMax must be a finite number.");
                if (scaleMin is { } min && scaleMax is { } max && double.IsFinite(min) && double.IsFinite(max) && min >= max)
                    errors.Add("scaleMax", $"scaleMax ({max}) must be greater than scaleMin ({min}).");
                return (scaleMin, scaleMax, null);

            case MetricType.Qualitative:
                if (scaleMin is not null) errors.Add("scaleMin", "A qualitative metric has labels, not a numeric scale.");
                if (scaleMax is not null) errors.Add("scaleMax", "A qualitative metric has labels, not a numeric scale.");
                var trimmed = (labels ?? []).Select(l => l?.Trim() ?? "").ToList();
                if (trimmed.Any(l => l.Length == 0)) errors.Add("labels", "Labels must not be empty.");
                else if (trimmed.Any(l => l.Length > MaxLabelLength)) errors.Add("labels", $"A label is at most {MaxLabelLength} characters.");
                else if (trimmed.Count > MaxLabels) errors.Add("labels", $"A metric has at most {MaxLabels} labels.");
                else if (trimmed.Distinct(StringComparer.OrdinalIgnoreCase).Count() != trimmed.Count)
                    errors.Add("labels", "Labels must be distinct (compared ignoring case).");
                else if (trimmed.Count < 2) errors.Add("labels", "A qualitative metric needs at least 2 distinct labels.");
                return (null, null, trimmed);

            default:
                return (null, null, null);
        }
    }
}

/// <summary>Field name -> messages, in the shape Results.ValidationProblem takes.</summary>
public sealed class ValidationErrors
{
    readonly Dictionary<string, List<string>> errors = new(StringComparer.Ordinal);

    public bool Any => errors.Count > 0;

    public void Add(string field, string message)
    {
        if (!errors.TryGetValue(field, out var messages)) errors[field] = messages = [];
        messages.Add(message);
    }

    public IDictionary<string, string[]> ToDictionary() => errors.ToDictionary(e => e.Key, e => e.Value.ToArray());

    public override string ToString() => string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"));
}
