namespace MetricAlignment.Alignment.Analysis;

/// <summary>
/// Krippendorff's coincidence matrix, accumulated unit by unit: every ordered pair of values from different coders
/// of a unit with m values adds 1 / (m - 1). Memory grows with the number of distinct values, not of units.
/// </summary>
public sealed class CoincidenceMatrix<T> where T : notnull
{
    readonly Dictionary<(T C, T K), double> cells = new();

    /// <summary>Units with at least two values (the only ones that count).</summary>
    public int PairableUnits { get; private set; }

    public void AddUnit(IReadOnlyList<T> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < 2) return;
        PairableUnits++;
        var weight = 1d / (values.Count - 1);
        for (var i = 0; i < values.Count; i++)
            for (var j = 0; j < values.Count; j++)
                if (i != j)
                {
                    var key = (values[i], values[j]);
                    cells[key] = cells.GetValueOrDefault(key) + weight;
                }
    }

    public IEnumerable<(T C, T K, double O)> Cells => cells.Select(c => (c.Key.C, c.Key.K, c.Value));

    public double? Alpha(Func<T, T, double> distance) => AgreementMath.KrippendorffAlpha(Cells, distance);
}
