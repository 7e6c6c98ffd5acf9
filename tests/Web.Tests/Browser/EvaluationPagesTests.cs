using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MetricAlignment.Web.Tests.Browser;

/// <summary>The evaluation page, where annotators annotate rows and admins resolve them, each as themselves.</summary>
[Collection(WebAppCollection.Name)]
public sealed class EvaluationPagesTests(WebAppFixture fixture)
{
    [Fact]
    public async Task An_annotator_annotates_a_row_as_themselves_but_is_not_offered_to_resolve_it()
    {
        var page = await OpenFirstEvaluationAsync(WebAppFixture.Annotator);

        var consistency = Consistency(page, row: 0);
        await Expect(consistency.Locator("tbody tr").First).ToContainTextAsync("Judge");
        var reviewersBefore = await consistency.Locator("tbody tr").CountAsync();
        await Expect(page.GetByTestId("annotation-role")).ToContainTextAsync("You annotate as annotator");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Resolve with this value" })).ToHaveCountAsync(0);

        // A blank score is explained before anything is sent.
        await consistency.GetByRole(AriaRole.Button, new() { Name = "Add annotation" }).ClickAsync();
        await Expect(consistency.GetByRole(AriaRole.Alert)).ToContainTextAsync("Enter a score");

        await consistency.Locator("input[type=number]").FillAsync("2");
        await consistency.GetByRole(AriaRole.Button, new() { Name = "Add annotation" }).ClickAsync();
        await Expect(consistency.Locator("tbody tr")).ToHaveCountAsync(reviewersBefore + 1);
        await Expect(consistency.Locator("tbody tr").Filter(new() { HasText = WebAppFixture.Annotator })).ToContainTextAsync("2");
        await Expect(consistency.GetByRole(AriaRole.Alert)).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task An_admin_resolves_a_row_as_themselves_and_a_value_off_the_scale_is_refused_readably()
    {
        var page = await OpenFirstEvaluationAsync(WebAppFixture.Admin);
        var consistency = Consistency(page, row: 1);
        await Expect(page.GetByTestId("annotation-role")).ToContainTextAsync("may resolve");

        // A score off the metric's 1-5 scale is refused by the service, readably.
        await consistency.Locator("input[type=number]").FillAsync("7");
        await consistency.GetByRole(AriaRole.Button, new() { Name = "Resolve with this value" }).ClickAsync();
        await Expect(consistency.GetByRole(AriaRole.Alert)).ToBeVisibleAsync();

        await consistency.Locator("input[type=number]").FillAsync("1");
        await consistency.GetByRole(AriaRole.Button, new() { Name = "Resolve with this value" }).ClickAsync();
        await Expect(consistency.Locator("tbody tr").Last).ToContainTextAsync($"by {WebAppFixture.Admin}");
        await Expect(consistency.Locator("tbody tr").Last.Locator("td").Nth(1)).ToHaveTextAsync("1");
        await Expect(consistency.GetByRole(AriaRole.Alert)).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "evaluation-page.png") });
    }

    [Fact]
    public async Task A_viewer_reads_the_rows_but_is_offered_no_annotation_or_resolution()
    {
        var page = await OpenFirstEvaluationAsync(WebAppFixture.Viewer);

        await Expect(Consistency(page, row: 0).Locator("tbody tr").First).ToContainTextAsync("Judge");
        await Expect(page.GetByTestId("annotation-role")).ToContainTextAsync("You can read this evaluation");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Add annotation" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Resolve with this value" })).ToHaveCountAsync(0);
        await Expect(page.Locator("input[type=number]")).ToHaveCountAsync(0);
    }

    async Task<IPage> OpenFirstEvaluationAsync(string user)
    {
        var page = await fixture.OpenAsync("/evaluations", user);
        var name = fixture.Imported[0].Name;
        await page.GetByTestId("evaluations").GetByRole(AriaRole.Link, new() { Name = name }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync(name);
        await WebAppFixture.WaitInteractiveAsync(page);
        return page;
    }

    static ILocator Consistency(IPage page, int row) =>
        page.GetByTestId("eval-row").Nth(row).Locator(".metric-scores").Filter(new() { HasText = "consistency" });
}
