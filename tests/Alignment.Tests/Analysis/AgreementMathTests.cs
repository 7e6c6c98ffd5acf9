using MetricAlignment.Alignment.Analysis;

namespace MetricAlignment.Alignment.Tests.Analysis;

public sealed class AgreementMathTests
{
    [Fact]
    public void Perfect_agreement_gives_kappa_and_quadratic_kappa_of_one()
    {
        var matrix = new double[,] { { 4, 0, 0 }, { 0, 7, 0 }, { 0, 0, 2 } };

        AgreementMath.CohensKappa(matrix).Should().BeApproximately(1, 1e-12);
        AgreementMath.QuadraticWeightedKappa(matrix).Should().BeApproximately(1, 1e-12);
    }

    [Fact]
    public void Cohens_kappa_matches_the_textbook_example()
    {
        // 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> po 0.7, pe 0.5, kappa 0.4.
        var matrix = new double[,] { { 20, 5 }, { 10, 15 } };

        AgreementMath.CohensKappa(matrix).Should().BeApproximately(0.4, 1e-12);
    }

    [Fact]
    public void Quadratic_weighted_kappa_matches_a_hand_computed_example()
    {
        // n 20, row totals 7 9 4, column totals 6 9 5; weights 1/4 one step apart, 1 two apart.
        // observed = 6 * 1/4 = 1.5; expected = (198 * 1/4 + 59) / 20 = 5.425; kappa = 1 - 1.5 / 5.425.
        var matrix = new double[,] { { 5, 2, 0 }, { 1, 6, 2 }, { 0, 1, 3 } };

        AgreementMath.QuadraticWeightedKappa(matrix).Should().BeApproximately(1 - 1.5 / 5.425, 1e-12);
    }

    [Fact]
    public void Kappa_is_undefined_when_both_raters_used_a_single_category()
    {
        AgreementMath.CohensKappa(new double[,] { { 9, 0 }, { 0, 0 } }).Should().BeNull();
        AgreementMath.CohensKappa(new double[,] { { 0, 0 }, { 0, 0 } }).Should().BeNull();
    }

    [Fact]
    public void Spearman_uses_mid_ranks_for_ties()
    {
        // x = 1 2 2 3, y = 1 3 2 4: x ranks 1 2.5 2.5 4; cov 4.5, var x 4.5, var y 5 -> 4.5 / sqrt(22.5).
        var joint = new[] { (1d, 1d, 1d), (2d, 3d, 1d), (2d, 2d, 1d), (3d, 4d, 1d) };

        AgreementMath.Spearman(joint).Should().BeApproximately(4.5 / Math.Sqrt(22.5), 1e-12);
    }

    [Fact]
    public void Spearman_counts_histogram_cells_as_repeated_rows()
    {
        var asCounts = new[] { (1d, 1d, 2d), (2d, 3d, 1d), (3d, 2d, 1d) };
        var asRows = new[] { (1d, 1d, 1d), (1d, 1d, 1d), (2d, 3d, 1d), (3d, 2d, 1d) };

        AgreementMath.Spearman(asCounts).Should().BeApproximately(AgreementMath.Spearman(asRows)!.Value, 1e-12);
    }

    [Fact]
    public void Spearman_handles_non_integer_values_such_as_half_point_medians()
    {
        var joint = new[] { (1d, 4.5d, 1d), (1.5d, 3d, 1d), (2d, 2.5d, 1d) };

        AgreementMath.Spearman(joint).Should().BeApproximately(-1, 1e-12);
    }

    [Fact]
    public void Spearman_is_undefined_when_one_side_is_constant()
    {
        AgreementMath.Spearman([(5d, 1d, 3d), (5d, 2d, 1d)]).Should().BeNull();
    }

    // Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units, missing values.
    static readonly double?[][] KrippendorffExample =
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
        [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
    ];

    static IEnumerable<List<double>> Units() =>
        Enumerable.Range(0, 12).Select(u => KrippendorffExample.Select(o => o[u]).OfType<double>().ToList());

    [Fact]
    public void Krippendorff_alpha_matches_the_published_nominal_example()
    {
        var matrix = new CoincidenceMatrix<string>();
        foreach (var unit in Units()) matrix.AddUnit(unit.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList());

        matrix.Alpha(AgreementMath.NominalDistance).Should().BeApproximately(0.743, 0.0005);
        matrix.PairableUnits.Should().Be(11, "the last unit has a single value");
    }

    [Fact]
    public void Krippendorff_alpha_matches_the_published_interval_example()
    {
        var matrix = new CoincidenceMatrix<double>();
        foreach (var unit in Units()) matrix.AddUnit(unit);

        matrix.Alpha(AgreementMath.IntervalDistance).Should().BeApproximately(0.849, 0.0005);
    }

    [Fact]
    public void Krippendorff_alpha_is_one_when_reviewers_always_agree()
    {
        var matrix = new CoincidenceMatrix<double>();
        matrix.AddUnit([1, 1, 1]);
        matrix.AddUnit([3, 3]);
        matrix.AddUnit([5, 5, 5]);

        matrix.Alpha(AgreementMath.IntervalDistance).Should().BeApproximately(1, 1e-12);
    }
}
