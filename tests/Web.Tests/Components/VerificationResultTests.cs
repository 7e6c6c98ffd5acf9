using System.Text.RegularExpressions;
using MetricAlignment.Web.Clients;
using MetricAlignment.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetricAlignment.Web.Tests.Components;

/// <summary>The expanded run's verification block, rendered to HTML without a browser (no verified run exists in the browser fixture).</summary>
public sealed class VerificationResultTests
{
    static AgreementStatistics Statistics(double exact, double mae, int[][] matrix) => new()
    {
        RowCount = 8, ExactAgreement = exact, WithinOne = 0.75, MeanAbsoluteError = mae, QuadraticWeightedKappa = 0.4,
        Categories = ["1", "2"], ConfusionMatrix = matrix,
    };

    static async Task<string> RenderAsync(RunVerification verification)
    {
        await using var services = new ServiceCollection().BuildServiceProvider();
        await using var renderer = new HtmlRenderer(services, NullLoggerFactory.Instance);
        return await renderer.Dispatcher.InvokeAsync(async () =>
        {
            var output = await renderer.RenderComponentAsync<VerificationResult>(
                ParameterView.FromDictionary(new Dictionary<string, object?> { [nameof(VerificationResult.Verification)] = verification }));
            // The renderer encodes every non-ASCII character ("−", "κ"); the assertions read the text as a browser would.
            return System.Net.WebUtility.HtmlDecode(output.ToHtmlString());
        });
    }

    [Fact]
    public async Task A_verified_run_shows_the_statistics_before_and_after_and_both_confusion_matrices()
    {
        var html = await RenderAsync(new RunVerification
        {
            JudgeProvider = "local", JudgeModel = "qwen2", HeldOutRowCount = 8, Improved = true,
            Baseline = Statistics(0.25, 1.5, [[1, 3], [3, 1]]),
            Refined = Statistics(0.75, 0.5, [[3, 1], [1, 3]]),
        });

        Regex.Matches(html, "data-testid=\"confusion-matrix\"").Should().HaveCount(2);
        html.Should().Contain("Current prompt").And.Contain("Refined prompt");
        Regex.Matches(html, "<tr data-change=").Should().HaveCount(4, "exact, within one, MAE and weighted kappa");
        html.Should().Contain("<td>25%</td>").And.Contain("<td>75%</td>").And.Contain("+50 pts (better)");
        html.Should().Contain("−1 (better)", "a lower mean absolute error is better");
        html.Should().MatchRegex(">improved</span>");
    }

    [Fact]
    public async Task A_verification_without_matrices_shows_the_table_but_no_heat_maps()
    {
        var html = await RenderAsync(new RunVerification
        {
            JudgeProvider = "local", JudgeModel = "qwen2", HeldOutRowCount = 4,
            Baseline = new AgreementStatistics { RowCount = 4, ExactAgreement = 0.5 },
            Refined = new AgreementStatistics { RowCount = 4, ExactAgreement = 0.25 },
        });

        html.Should().Contain("data-testid=\"verification-comparison\"").And.Contain("−25 pts (worse)").And.MatchRegex(">not improved</span>");
        html.Should().NotContain("confusion-matrix");
    }
}
