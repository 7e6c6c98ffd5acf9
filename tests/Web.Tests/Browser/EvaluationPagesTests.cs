using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MetricAlignment.Web.Tests.Browser;

[Collection(WebAppCollection.Name)]
public sealed class EvaluationPagesTests(WebAppFixture fixture)
{
    [Fact]
    public async Task A_reviewer_annotates_a_row_and_an_admin_resolves_it_from_the_evaluation_page()
    {
        var page = await fixture.OpenAsync("/evaluations");
        var name = fixture.Imported[0].Name;
        await page.GetByTestId("evaluations").GetByRole(AriaRole.Link, new() { Name = name }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync(name);
        await FixtureWaitAsync(page);

        var row = page.GetByTestId("eval-row").First;
        var consistency = row.Locator(".metric-scores").Filter(new() { HasText = "consistency" });
        await Expect(consistency.Locator("tbody tr").First).ToContainTextAsync("Judge");
        var reviewersBefore = await consistency.Locator("tbody tr").CountAsync();

        // Without a reviewer id the form explains what is missing.
        await consistency.Locator("input[type=number]").FillAsync("2");
        await consistency.GetByRole(AriaRole.Button, new() { Name = "Add annotation" }).ClickAsync();
        await Expect(consistency.GetByRole(AriaRole.Alert)).ToContainTextAsync("reviewer id");

        await page.GetByTestId("reviewer-id").FillAsync("web-tester");
        await consistency.GetByRole(AriaRole.Button, new() { Name = "Add annotation" }).ClickAsync();
        await Expect(consistency.Locator("tbody tr")).ToHaveCountAsync(reviewersBefore + 1);
        await Expect(consistency.Locator("tbody")).ToContainTextAsync("web-tester");

        // A score off the metric's 1-5 scale is refused by the service, readably.
        await page.GetByLabel("I am an admin").CheckAsync();
        await consistency.Locator("input[type=number]").FillAsync("7");
        await consistency.GetByRole(AriaRole.Button, new() { Name = "Resolve with this value" }).ClickAsync();
        await Expect(consistency.GetByRole(AriaRole.Alert)).ToBeVisibleAsync();

        await consistency.Locator("input[type=number]").FillAsync("1");
        await consistency.GetByRole(AriaRole.Button, new() { Name = "Resolve with this value" }).ClickAsync();
        await Expect(consistency.Locator("tbody tr").Last).ToContainTextAsync("by web-tester");
        await Expect(consistency.Locator("tbody tr").Last.Locator("td").Nth(1)).ToHaveTextAsync("1");
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "evaluation-page.png") });
    }

    static Task FixtureWaitAsync(IPage page) => WebAppFixture.WaitInteractiveAsync(page);
}
