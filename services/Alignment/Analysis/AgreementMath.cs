namespace MetricAlignment.Alignment.Analysis;

/// <summary>
/// Pure agreement statistics over compact histograms (value counts), so callers can accumulate row by row in memory
/// bounded by the number of distinct values and compute the result once at the end.
/// </summary>
public static class AgreementMath
{
    /// <summary>
    /// Weighted Cohen's kappa over a square confusion matrix (rows: rater A, columns: rater B, cells: counts).
    /// Null when undefined: no rows, or no expected disagreement (both raters used a single category).
    /// </summary>
    public static double? WeightedKappa(double[,] matrix, Func<int, int, double> weight)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(weight);
        var size = matrix.GetLength(0);
        if (matrix.GetLength(1) != size) throw new ArgumentException("The confusion matrix must be square.", nameof(matrix));
        var rowTotals = new double[size];
        var columnTotals = new double[size];
        var total = 0d;
        for (var i = 0; i < size; i++)
            for (var j = 0; j < size; j++)
            {
                rowTotals[i] += matrix[i, j];
                columnTotals[j] += matrix[i, j];
                total += matrix[i, j];
            }
        if (total <= 0) return null;
        double observed = 0, expected = 0;
        for (var i = 0; i < size; i++)
            for (var j = 0; j < size; j++)
            {
                var w = weight(i, j);
                observed += w * matrix[i, j];
                expected += w * rowTotals[i] * columnTotals[j] / total;
            }
        if (expected <= 1e-12) return null;
        return 1 - observed / expected;
    }

    /// <summary>Unweighted Cohen's kappa: (po - pe) / (1 - pe).</summary>
    public static double? CohensKappa(double[,] matrix) => WeightedKappa(matrix, (i, j) => i == j ? 0 : 1);

    /// <summary>Quadratic-weighted kappa: disagreement weight (i - j)^2 / (k - 1)^2 over ordered categories.</summary>
    public static double? QuadraticWeightedKappa(double[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var size = matrix.GetLength(0);
        if (size < 2) return null;
        var scale = (double)(size - 1) * (size - 1);
        return WeightedKappa(matrix, (i, j) => (i - j) * (i - j) / scale);
    }

    /// <summary>
    /// Spearman's rank correlation from a joint histogram of (x, y) values with counts: the Pearson correlation of
    /// mid-ranks, which is the tie-corrected coefficient. Values need not be integers. Null when either side is constant.
    /// </summary>
    public static double? Spearman(IEnumerable<(double X, double Y, double Count)> joint)
    {
        ArgumentNullException.ThrowIfNull(joint);
        var cells = joint.Where(c => c.Count > 0).ToList();
        var n = cells.Sum(c => c.Count);
        if (n < 2) return null;
        var xRanks = MidRanks(cells.Select(c => (c.X, c.Count)));
        var yRanks = MidRanks(cells.Select(c => (c.Y, c.Count)));
        double meanX = 0, meanY = 0;
        foreach (var c in cells)
        {
            meanX += c.Count * xRanks[c.X];
            meanY += c.Count * yRanks[c.Y];
        }
        meanX /= n;
        meanY /= n;
        double covariance = 0, varianceX = 0, varianceY = 0;
        foreach (var c in cells)
        {
            var dx = xRanks[c.X] - meanX;
            var dy = yRanks[c.Y] - meanY;
            covariance += c.Count * dx * dy;
            varianceX += c.Count * dx * dx;
            varianceY += c.Count * dy * dy;
        }
        if (varianceX <= 1e-12 || varianceY <= 1e-12) return null;
        return covariance / Math.Sqrt(varianceX * varianceY);
    }

    /// <summary>Average rank (1-based) of each distinct value, ties sharing the mean of the ranks they span.</summary>
    public static IReadOnlyDictionary<double, double> MidRanksOf(IEnumerable<(double Value, double Count)> histogram) =>
        MidRanks(histogram);

    static Dictionary<double, double> MidRanks(IEnumerable<(double Value, double Count)> histogram)
    {
        var counts = new SortedDictionary<double, double>();
        foreach (var (value, count) in histogram)
            counts[value] = counts.GetValueOrDefault(value) + count;
        var ranks = new Dictionary<double, double>();
        var before = 0d;
        foreach (var (value, count) in counts)
        {
            ranks[value] = before + (count + 1) / 2;
            before += count;
        }
        return ranks;
    }

    /// <summary>
    /// Krippendorff's alpha from a coincidence matrix: 1 - Do / De with Do = sum o_ck d(c,k) / n and
    /// De = sum n_c n_k d(c,k) / (n (n - 1)). Null when there are fewer than two pairable values or no variation.
    /// </summary>
    public static double? KrippendorffAlpha<T>(IEnumerable<(T C, T K, double O)> coincidences, Func<T, T, double> distance)
        where T : notnull
    {
        ArgumentNullException.ThrowIfNull(coincidences);
        ArgumentNullException.ThrowIfNull(distance);
        var cells = coincidences.Where(c => c.O > 0).ToList();
        var marginals = new Dictionary<T, double>();
        foreach (var (c, _, o) in cells)
            marginals[c] = marginals.GetValueOrDefault(c) + o;
        var n = marginals.Values.Sum();
        if (n <= 1) return null;
        var observed = cells.Sum(cell => cell.O * distance(cell.C, cell.K)) / n;
        var values = marginals.ToList();
        var expected = 0d;
        foreach (var (c, nc) in values)
            foreach (var (k, nk) in values)
                expected += nc * nk * distance(c, k);
        expected /= n * (n - 1);
        if (expected <= 1e-12) return null;
        return 1 - observed / expected;
    }

    /// <summary>Squared difference: the interval metric's distance.</summary>
    public static double IntervalDistance(double c, double k) => (c - k) * (c - k);

    /// <summary>0 for equal values, 1 otherwise: the nominal metric's distance.</summary>
    public static double NominalDistance(string c, string k) => string.Equals(c, k, StringComparison.Ordinal) ? 0 : 1;
}
