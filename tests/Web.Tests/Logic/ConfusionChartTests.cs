using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class ConfusionChartTests
{
    static readonly string[] Categories = ["1", "2", "3"];

    [Fact]
    public void The_largest_cell_is_fully_shaded_and_empty_cells_are_not_shaded_at_all()
    {
        int[][] matrix = [[10, 0, 0], [2, 40, 1], [0, 5, 20]];

        var chart = ConfusionChart.Build(Categories, matrix);

        chart.MaxCount.Should().Be(40);
        chart.Total.Should().Be(78);
        chart.Agreeing.Should().Be(70);
        chart.Cells.Single(c => c.Row == 1 && c.Column == 1).Intensity.Should().Be(1);
        chart.Cells.Single(c => c.Row == 0 && c.Column == 1).Intensity.Should().Be(0);
        chart.Cells.Where(c => c.Diagonal).Select(c => (c.Row, c.Column)).Should().Equal((0, 0), (1, 1), (2, 2));
    }

    [Fact]
    public void A_single_row_next_to_thousands_is_still_visibly_shaded()
    {
        var intensity = ConfusionChart.Intensity(1, 10_000);

        intensity.Should().BeGreaterThanOrEqualTo(0.12).And.BeLessThan(0.2);
        ConfusionChart.Fill(intensity).Should().NotBe(ConfusionChart.Fill(0));
    }

    [Fact]
    public void Shading_grows_with_the_count()
    {
        ConfusionChart.Intensity(5, 100).Should().BeLessThan(ConfusionChart.Intensity(50, 100));
        ConfusionChart.Fill(0).Should().Be("#f5f7fa");
        ConfusionChart.Fill(1).Should().Be("#1d4ed8");
    }

    [Fact]
    public void Cells_are_laid_out_in_a_grid_that_the_svg_size_contains()
    {
        var chart = ConfusionChart.Build(Categories, [[1, 2, 3], [4, 5, 6], [7, 8, 9]]);

        var last = chart.Cells.Single(c => c.Row == 2 && c.Column == 2);
        last.X.Should().Be(ConfusionChart.LeftMargin + 2 * ConfusionChart.CellSize);
        last.Y.Should().Be(ConfusionChart.TopMargin + 2 * ConfusionChart.CellSize);
        (last.X + ConfusionChart.CellSize).Should().BeLessThanOrEqualTo(chart.Width);
        (last.Y + ConfusionChart.CellSize).Should().BeLessThanOrEqualTo(chart.Height);
    }

    [Fact]
    public void A_ragged_matrix_draws_its_missing_cells_as_zero()
    {
        var chart = ConfusionChart.Build(Categories, [[3], [1, 2]]);

        chart.Cells.Should().HaveCount(9);
        chart.Total.Should().Be(6);
        chart.Cells.Single(c => c.Row == 2 && c.Column == 2).Count.Should().Be(0);
    }

    [Fact]
    public void Category_labels_are_encoded_in_the_svg_markup()
    {
        var chart = ConfusionChart.Build(["<b>", "ok"], [[1, 0], [0, 1]]);

        chart.AxisMarkup().Should().Contain("&lt;b&gt;").And.NotContain("<b>");
    }
}
