using System.Globalization;
using MetricAlignment.Web.Clients;

namespace MetricAlignment.Web.Logic;

/// <summary>Whether a statistic moved the right way under the refined prompt.</summary>
public enum StatisticChange
{
    Unknown,
    Same,
    Better,
    Worse,
}

/// <summary>One statistic of a verified run: the held-out rows under the current prompt and under the refined one.</summary>
public sealed record ComparisonRow(string Label, string Baseline, string Refined, string Difference, StatisticChange Change);

/// <summary>
/// The before/after table of judge verification. Only statistics that either side has are listed; the difference is in
/// percentage points for shares, and "better" means higher agreement and kappa, lower mean absolute error.
/// </summary>
public static class VerificationComparison
{
    const double Tolerance = 1e-9;

    public static IReadOnlyList<ComparisonRow> Rows(AgreementStatistics? baseline, AgreementStatistics? refined)
    {
        var rows = new List<ComparisonRow>();
        if (baseline is null && refined is null) return rows;
        rows.Add(Share("Exact agreement", baseline?.ExactAgreement, refined?.ExactAgreement));
        if (baseline?.WithinOne is not null || refined?.WithinOne is not null)
            rows.Add(Share("Within one point", baseline?.WithinOne, refined?.WithinOne));
        if (baseline?.MeanAbsoluteError is not null || refined?.MeanAbsoluteError is not null)
            rows.Add(Number("Mean absolute error", baseline?.MeanAbsoluteError, refined?.MeanAbsoluteError, higherIsBetter: false));
        if (baseline?.QuadraticWeightedKappa is not null || refined?.QuadraticWeightedKappa is not null)
            rows.Add(Number("Weighted κ", baseline?.QuadraticWeightedKappa, refined?.QuadraticWeightedKappa, higherIsBetter: true));
        if (baseline?.CohensKappa is not null || refined?.CohensKappa is not null)
            rows.Add(Number("Cohen's κ", baseline?.CohensKappa, refined?.CohensKappa, higherIsBetter: true));
        return rows;
    }

    /// <summary>Both sides carry a confusion matrix, so the two heat maps can be drawn side by side.</summary>
    public static bool HasMatrices(RunVerification verification) =>
        verification.Baseline is { Categories.Count: > 0 } && verification.Refined is { Categories.Count: > 0 };

    static ComparisonRow Share(string label, double? before, double? after) =>
        new(label, RunText.Percent(before), RunText.Percent(after),
            before is { } b && after is { } a ? Signed((a - b) * 100, "0.#") + " pts" : "—",
            Direction(before, after, higherIsBetter: true));

    static ComparisonRow Number(string label, double? before, double? after, bool higherIsBetter) =>
        new(label, RunText.Number(before), RunText.Number(after),
            before is { } b && after is { } a ? Signed(a - b, "0.###") : "—",
            Direction(before, after, higherIsBetter));

    static StatisticChange Direction(double? before, double? after, bool higherIsBetter)
    {
        if (before is not { } b || after is not { } a) return StatisticChange.Unknown;
        if (Math.Abs(a - b) < Tolerance) return StatisticChange.Same;
        return (a > b) == higherIsBetter ? StatisticChange.Better : StatisticChange.Worse;
    }

    static string Signed(double value, string format)
    {
        var text = Math.Abs(value).ToString(format, CultureInfo.InvariantCulture);
        if (text == "0") return "±0";
        return (value > 0 ? "+" : "−") + text;
    }
}
