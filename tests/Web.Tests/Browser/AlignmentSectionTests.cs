using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MetricAlignment.Web.Tests.Browser;

/// <summary>The Alignment section of a metric's page against the real services and the imported dataset.</summary>
[Collection(WebAppCollection.Name)]
public sealed class AlignmentSectionTests(WebAppFixture fixture)
{
    static readonly LocatorAssertionsToHaveTextOptions RunTimeout = new() { Timeout = 180_000 };

    [Fact]
    public async Task The_dialog_lists_only_usable_evaluations_and_refuses_an_out_of_range_threshold_in_place()
    {
        var page = await fixture.OpenAsync("/metrics/coherence");
        var dialog = await OpenStartDialogAsync(page);

        // The dataset's eight batches are completed and resolved by the median of three reviewers.
        await Expect(dialog.GetByTestId("eligible-evaluations").Locator("li")).ToHaveCountAsync(fixture.Imported.Count);
        await Expect(dialog.GetByTestId("eligible-evaluations").Locator("li").First).ToContainTextAsync(new Regex(@"\d+ resolved of\s+\d+ rows"));
        await Expect(dialog.GetByText("builtin", new() { Exact = true }).First).ToBeVisibleAsync();
        await dialog.GetByRole(AriaRole.Checkbox).First.CheckAsync();
        await dialog.GetByTestId("delta-threshold").FillAsync("9");
        await dialog.GetByTestId("start-run").ClickAsync();

        await Expect(dialog.Locator("#threshold-error")).ToContainTextAsync("at most 4");
        await Expect(dialog.GetByTestId("delta-threshold")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(dialog.GetByTestId("delta-threshold")).ToBeFocusedAsync();
        await Expect(dialog.Locator("#threshold-error")).ToBeInViewportAsync();
        await Expect(dialog).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "start-dialog.png") });

        // Tabbing past the last control comes back into the dialog rather than to the page behind it.
        for (var i = 0; i < 20; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            await page.WaitForFunctionAsync("() => document.activeElement?.closest('[role=dialog]') != null");
        }

        // Escape closes the dialog and nothing was queued.
        await page.Keyboard.PressAsync("Escape");
        await Expect(page.GetByTestId("start-dialog")).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("no-runs")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_choice_the_service_refuses_is_explained_beside_its_field()
    {
        var page = await fixture.OpenAsync("/metrics/consistency");
        var dialog = await OpenStartDialogAsync(page);

        await dialog.GetByRole(AriaRole.Checkbox).First.CheckAsync();
        await dialog.GetByTestId("reflection-provider").FillAsync("no-such-provider");
        await dialog.GetByTestId("start-run").ClickAsync();

        await Expect(dialog.Locator("#provider-error")).ToContainTextAsync("no-such-provider");
        await Expect(dialog.GetByTestId("reflection-provider")).ToHaveValueAsync("no-such-provider");
        await Expect(page.GetByTestId("no-runs")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Starting_a_run_shows_it_at_once_then_live_until_aligned_and_accepting_it_forks_the_built_in_metric()
    {
        var page = await fixture.OpenAsync("/metrics/relevance");
        await page.EvaluateAsync("() => window.__sameDocument = true");
        var dialog = await OpenStartDialogAsync(page);
        var choices = dialog.GetByRole(AriaRole.Checkbox);
        await choices.Nth(0).CheckAsync();
        await choices.Nth(1).CheckAsync();
        await dialog.GetByTestId("delta-threshold").FillAsync("1");
        await dialog.GetByTestId("start-run").ClickAsync();

        await Expect(page.GetByTestId("start-dialog")).ToHaveCountAsync(0);
        var run = page.GetByTestId("run").First;
        await Expect(run).ToBeVisibleAsync(new() { Timeout = 5_000 });
        await Expect(run.Locator(".run-sources .chip")).ToHaveCountAsync(2);
        await Expect(run.GetByTestId("run-status")).ToHaveTextAsync("Aligned", RunTimeout);
        (await page.EvaluateAsync<bool>("() => window.__sameDocument === true")).Should().BeTrue("the run's progress arrives without a reload");

        await run.GetByTestId("run-toggle").ClickAsync();
        var details = run.GetByTestId("run-details");
        await Expect(details.GetByTestId("confusion-matrix")).ToBeVisibleAsync();
        await Expect(details.GetByTestId("confusion-matrix").Locator("rect")).ToHaveCountAsync(25);
        await Expect(details.GetByTestId("disagreements")).Not.ToHaveTextAsync("0");
        await Expect(details.GetByTestId("guidelines").Locator("li").First).ToBeVisibleAsync();
        await Expect(details.GetByTestId("diff-summary")).ToContainTextAsync("added");
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "metric-page.png"), FullPage = true });

        await run.GetByTestId("run-accept").ClickAsync();
        var confirm = page.GetByTestId("confirm-dialog");
        await Expect(confirm.GetByTestId("accept-consequence")).ToContainTextAsync("forks");
        await confirm.GetByTestId("confirm-action").ClickAsync();

        var outcome = run.GetByTestId("outcome-link");
        await Expect(outcome).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Expect(run.GetByTestId("run-status")).ToHaveTextAsync("Accepted");
        await outcome.ClickAsync();

        await Expect(page).Not.ToHaveURLAsync(new Regex("/metrics/relevance$"));
        await Expect(page.GetByTestId("metric-kind")).ToHaveTextAsync("custom");
        await Expect(page.GetByTestId("forked-from")).ToContainTextAsync("relevance");
    }

    [Fact]
    public async Task Cancelling_a_run_in_flight_stops_it()
    {
        var page = await fixture.OpenAsync("/metrics/fluency");
        // Other tests may have left runs of this metric; only the ones started here are counted.
        await Expect(page.GetByTestId("no-runs").Or(page.GetByTestId("runs"))).ToBeVisibleAsync();
        var earlier = await page.GetByTestId("run").CountAsync();

        // A run on this dataset takes a second or two; should one finish before the click lands, the page must say so
        // readably, and the next attempt tries again.
        var cancelled = false;
        for (var attempt = 1; attempt <= 3 && !cancelled; attempt++)
        {
            var dialog = await OpenStartDialogAsync(page);
            var choices = dialog.GetByRole(AriaRole.Checkbox);
            for (var i = 0; i < await choices.CountAsync(); i++) await choices.Nth(i).CheckAsync();
            await dialog.GetByTestId("start-run").ClickAsync();
            var run = page.GetByTestId("run").First;
            await Expect(page.GetByTestId("run")).ToHaveCountAsync(earlier + attempt);
            await run.GetByTestId("run-cancel").ClickAsync(new() { Timeout = 5_000 });

            await Expect(run.GetByTestId("run-status")).ToHaveTextAsync(new Regex("^(Cancelled|Aligned)$"), RunTimeout);
            cancelled = await run.GetByTestId("run-status").TextContentAsync() == "Cancelled";
            if (!cancelled) await Expect(run.GetByRole(AriaRole.Alert)).ToContainTextAsync("only a pending or running run can be cancelled");
        }

        cancelled.Should().BeTrue("one of three runs was still in flight when Cancel was clicked");
        await Expect(page.GetByTestId("run").First.GetByTestId("run-cancel")).ToHaveCountAsync(0);
    }

    static async Task<ILocator> OpenStartDialogAsync(IPage page)
    {
        await page.GetByTestId("open-start-dialog").ClickAsync();
        var dialog = page.GetByTestId("start-dialog");
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.GetByTestId("eligible-evaluations")).ToBeVisibleAsync();
        return dialog;
    }
}
