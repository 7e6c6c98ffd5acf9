namespace MetricAlignment.Annotations.Resolution;

/// <summary>
/// Decides whether the reviewers' current values for a (row, metric) settle it without a person: one reviewer,
/// all reviewers giving the same value, or the metric's bulk rule. Null means a person has to resolve it.
/// </summary>
public static class ResolutionPolicy
{
    public static ResolvedValue? Automatic(IReadOnlyList<double> scores, ResolutionRule rule)
    {
        if (scores.Count == 0) return null;
        if (scores.Count == 1) return new(scores[0], null, ResolutionMethods.SingleReviewer);
        if (scores.All(s => s == scores[0])) return new(scores[0], null, ResolutionMethods.Unanimous);
        return rule switch
        {
            ResolutionRule.Median => new(Median(scores), null, ResolutionMethods.Of(rule)),
            ResolutionRule.Mean => new(scores.Average(), null, ResolutionMethods.Of(rule)),
            ResolutionRule.Majority => TryMajority(scores, out var s) ? new(s, null, ResolutionMethods.Of(rule)) : null,
            _ => null,
        };
    }

    public static ResolvedValue? Automatic(IReadOnlyList<string> labels, ResolutionRule rule)
    {
        if (labels.Count == 0) return null;
        if (labels.Count == 1) return new(null, labels[0], ResolutionMethods.SingleReviewer);
        if (labels.All(l => l == labels[0])) return new(null, labels[0], ResolutionMethods.Unanimous);
        return rule == ResolutionRule.Majority && TryMajority(labels, out var label)
            ? new(null, label, ResolutionMethods.Of(rule))
            : null;
    }

    /// <summary>Whether the rule can reconcile values of that kind (an average of labels means nothing).</summary>
    public static bool Applies(ResolutionRule rule, bool quantitative) =>
        rule is ResolutionRule.None or ResolutionRule.Majority || quantitative;

    static double Median(IReadOnlyList<double> scores)
    {
        var sorted = scores.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    // More than half of the reviewers: a plurality among three-way splits is not an agreement.
    static bool TryMajority<T>(IReadOnlyList<T> values, out T winner) where T : notnull
    {
        var top = values.GroupBy(v => v).OrderByDescending(g => g.Count()).First();
        winner = top.Key;
        return top.Count() * 2 > values.Count;
    }
}
