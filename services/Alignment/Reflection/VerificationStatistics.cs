using MetricAlignment.Alignment.Analysis;

namespace MetricAlignment.Alignment.Reflection;

/// <summary>Agreement of re-scored judge values with the human reference, in the analysis' terms (same scale grid, same maths).</summary>
internal static class VerificationStatistics
{
    const double Tolerance = 1e-9;

    public static AgreementStatistics Scores(MetricDefinition metric, IReadOnlyList<(double Judge, double Human)> pairs)
    {
        var grid = new ScaleGrid(metric.ScaleMin, metric.ScaleMax);
        var categories = grid.Points(pairs.SelectMany(p => new[] { grid.Category(p.Judge), grid.Category(p.Human) }));
        var index = categories.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        var matrix = new double[categories.Count, categories.Count];
        var joint = new Dictionary<(double, double), double>();
        int exact = 0, withinOne = 0;
        double absolute = 0, signed = 0;
        foreach (var (judge, human) in pairs)
        {
            matrix[index[grid.Category(judge)], index[grid.Category(human)]]++;
            var key = (grid.Key(judge), grid.Key(human));
            joint[key] = joint.GetValueOrDefault(key) + 1;
            var distance = Math.Abs(judge - human);
            if (distance <= Tolerance) exact++;
            if (distance <= grid.Step + Tolerance) withinOne++;
            absolute += distance;
            signed += judge - human;
        }
        var n = pairs.Count;
        return new AgreementStatistics
        {
            RowCount = n,
            ExactAgreement = n == 0 ? 0 : (double)exact / n,
            WithinOne = n == 0 ? null : (double)withinOne / n,
            MeanAbsoluteError = n == 0 ? null : absolute / n,
            SignedBias = n == 0 ? null : signed / n,
            Spearman = AgreementMath.Spearman(joint.Select(c => (c.Key.Item1, c.Key.Item2, c.Value))),
            QuadraticWeightedKappa = AgreementMath.QuadraticWeightedKappa(matrix),
            Categories = categories.Select(ScaleGrid.Format).ToList(),
            ConfusionMatrix = Rows(matrix),
        };
    }

    public static AgreementStatistics Labels(MetricDefinition metric, IReadOnlyList<(string Judge, string Human)> pairs)
    {
        var declared = metric.Labels.Select(l => l.Trim()).Distinct(StringComparer.Ordinal).ToList();
        var categories = declared
            .Concat(pairs.SelectMany(p => new[] { p.Judge, p.Human }).Where(l => !declared.Contains(l, StringComparer.Ordinal)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            .ToList();
        var index = categories.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var matrix = new double[categories.Count, categories.Count];
        var exact = 0;
        foreach (var (judge, human) in pairs)
        {
            matrix[index[judge], index[human]]++;
            if (string.Equals(judge, human, StringComparison.Ordinal)) exact++;
        }
        return new AgreementStatistics
        {
            RowCount = pairs.Count,
            ExactAgreement = pairs.Count == 0 ? 0 : (double)exact / pairs.Count,
            CohensKappa = AgreementMath.CohensKappa(matrix),
            Categories = categories,
            ConfusionMatrix = Rows(matrix),
        };
    }

    static IReadOnlyList<IReadOnlyList<int>> Rows(double[,] matrix)
    {
        var rows = new List<IReadOnlyList<int>>();
        for (var i = 0; i < matrix.GetLength(0); i++)
        {
            var row = new int[matrix.GetLength(1)];
            for (var j = 0; j < row.Length; j++) row[j] = (int)Math.Round(matrix[i, j]);
            rows.Add(row);
        }
        return rows;
    }
}
