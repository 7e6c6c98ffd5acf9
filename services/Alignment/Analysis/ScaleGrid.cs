using System.Globalization;

namespace MetricAlignment.Alignment.Analysis;

/// <summary>
/// The categories of a quantitative scale: its points from min to max one step apart (step 1 on integer scales of
/// up to 20 points, a tenth of the range otherwise; integers when the metric declares no scale).
/// A value falls in the nearest point and halves round up, so a human median of 4.5 counts as 5 in the confusion
/// matrix and the kappa (the signed bias, MAE and Spearman use the exact values).
/// </summary>
internal sealed class ScaleGrid
{
    public double? Min { get; }
    public double? Max { get; }
    public double Step { get; }

    public ScaleGrid(double? min, double? max)
    {
        if (min is { } lo && max is { } hi && hi > lo)
        {
            Min = lo;
            Max = hi;
            var range = hi - lo;
            Step = Math.Abs(range - Math.Round(range)) < 1e-9 && range <= 20 ? 1 : range / 10;
        }
        else Step = 1;
    }

    public bool IsOutside(double value) =>
        (Min is { } lo && value < lo - 1e-9) || (Max is { } hi && value > hi + 1e-9);

    /// <summary>The scale point a value falls in.</summary>
    public double Category(double value)
    {
        var origin = Min ?? 0;
        var index = Math.Floor((value - origin) / Step + 0.5 + 1e-9);
        if (Min is not null && Max is { } hi) index = Math.Clamp(index, 0, Math.Round((hi - origin) / Step));
        return Math.Round(origin + index * Step, 9);
    }

    /// <summary>The points spanning the declared scale, or the observed categories' range when none was declared.</summary>
    public IReadOnlyList<double> Points(IEnumerable<double> observedCategories)
    {
        double lo, hi;
        if (Min is { } min && Max is { } max) (lo, hi) = (min, max);
        else
        {
            var observed = observedCategories.ToList();
            if (observed.Count == 0) return [];
            (lo, hi) = (observed.Min(), observed.Max());
        }
        var points = new List<double>();
        for (var i = 0; lo + i * Step <= hi + 1e-9; i++) points.Add(Math.Round(lo + i * Step, 9));
        return points;
    }

    /// <summary>Resolution at which exact values are keyed for the rank histograms: a hundredth of a step.</summary>
    public double Key(double value) => Math.Round(Math.Round(value / (Step / 100)) * (Step / 100), 9);

    public static string Format(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}
