using System.Globalization;

namespace MetricAlignment.Web.Logic;

/// <summary>
/// The delta threshold of an alignment run: the least |judge - human| that counts as a disagreement. It is bounded by the
/// metric's scale (greater than 0, at most max - min), as the Alignment service enforces; checking it here explains a
/// bad value before the request is sent.
/// </summary>
public static class ThresholdRules
{
    public static double? Range(double? scaleMin, double? scaleMax) =>
        scaleMin is { } min && scaleMax is { } max && max > min ? max - min : null;

    /// <summary>What the service uses when none is given: one point on scales of two points or more, else half the range.</summary>
    public static double Default(double range) => range >= 2 ? 1 : range / 2;

    /// <summary>A step for the number input that makes sense on the scale (0.05 on 0..1, 0.5 on 1..5).</summary>
    public static double Step(double range) => range <= 1 ? 0.05 : 0.5;

    /// <summary>Null when the text is a usable threshold (blank means the default), otherwise why not.</summary>
    public static string? Validate(string? text, double? scaleMin, double? scaleMax, out double? threshold)
    {
        threshold = null;
        if (Range(scaleMin, scaleMax) is not { } range)
            return "This metric has no numeric scale, so it takes no delta threshold.";
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            return $"Enter a number such as {Format(Default(range))}.";
        if (value <= 0)
            return $"The threshold must be greater than 0 (a gap of 0 would count every row as a disagreement).";
        if (value > range)
            return $"The threshold can be at most {Format(range)}: the scale runs from {Format(scaleMin!.Value)} to {Format(scaleMax!.Value)}.";
        threshold = value;
        return null;
    }

    public static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
