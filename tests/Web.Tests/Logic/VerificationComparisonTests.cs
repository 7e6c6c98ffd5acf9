using MetricAlignment.Web.Clients;
using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class VerificationComparisonTests
{
    static AgreementStatistics Quantitative(double exact, double withinOne, double mae, double kappa, int[][]? matrix = null) => new()
    {
        RowCount = 20, ExactAgreement = exact, WithinOne = withinOne, MeanAbsoluteError = mae, QuadraticWeightedKappa = kappa,
        Categories = matrix is null ? [] : ["1", "2"], ConfusionMatrix = matrix ?? [],
    };

    [Fact]
    public void A_quantitative_verification_compares_exact_within_one_mae_and_weighted_kappa_before_and_after()
    {
        var rows = VerificationComparison.Rows(Quantitative(0.4, 0.7, 1.2, 0.31), Quantitative(0.55, 0.7, 0.9, 0.28));

        rows.Select(r => r.Label).Should().Equal("Exact agreement", "Within one point", "Mean absolute error", "Weighted κ");
        rows[0].Should().Be(new ComparisonRow("Exact agreement", "40%", "55%", "+15 pts", StatisticChange.Better));
        rows[1].Change.Should().Be(StatisticChange.Same);
        rows[1].Difference.Should().Be("±0 pts");
        rows[2].Should().Be(new ComparisonRow("Mean absolute error", "1.2", "0.9", "−0.3", StatisticChange.Better), "a lower error is better");
        rows[3].Should().Be(new ComparisonRow("Weighted κ", "0.31", "0.28", "−0.03", StatisticChange.Worse));
    }

    [Fact]
    public void A_qualitative_verification_compares_exact_agreement_and_cohens_kappa_only()
    {
        var before = new AgreementStatistics { RowCount = 10, ExactAgreement = 0.8, CohensKappa = 0.5 };
        var after = new AgreementStatistics { RowCount = 10, ExactAgreement = 0.7, CohensKappa = 0.45 };

        var rows = VerificationComparison.Rows(before, after);

        rows.Select(r => (r.Label, r.Change)).Should().Equal(("Exact agreement", StatisticChange.Worse), ("Cohen's κ", StatisticChange.Worse));
        rows[0].Difference.Should().Be("−10 pts");
    }

    [Fact]
    public void A_side_without_statistics_shows_a_dash_and_no_direction()
    {
        var rows = VerificationComparison.Rows(Quantitative(0.4, 0.7, 1.2, 0.3), null);

        rows[0].Refined.Should().Be("—");
        rows[0].Difference.Should().Be("—");
        rows.Should().OnlyContain(r => r.Change == StatisticChange.Unknown);
        VerificationComparison.Rows(null, null).Should().BeEmpty();
    }

    [Fact]
    public void Heat_maps_are_drawn_only_when_both_sides_carry_a_confusion_matrix()
    {
        int[][] matrix = [[3, 1], [0, 4]];
        var both = new RunVerification { Baseline = Quantitative(0.4, 0.7, 1, 0.3, matrix), Refined = Quantitative(0.5, 0.8, 0.8, 0.4, matrix) };
        var oneSide = both with { Refined = Quantitative(0.5, 0.8, 0.8, 0.4) };

        VerificationComparison.HasMatrices(both).Should().BeTrue();
        VerificationComparison.HasMatrices(oneSide).Should().BeFalse();
        VerificationComparison.HasMatrices(new RunVerification()).Should().BeFalse();
    }
}
