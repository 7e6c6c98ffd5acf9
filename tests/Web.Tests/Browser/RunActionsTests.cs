using System.Net.Http.Json;
using System.Text.RegularExpressions;
using MetricAlignment.ServiceDefaults;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MetricAlignment.Web.Tests.Browser;

/// <summary>
/// The start dialog's provider choices and empty state, discarding an aligned run and retrying a failed one. Runs are
/// found by their id, so runs other tests leave on the same metric do not matter.
/// </summary>
[Collection(WebAppCollection.Name)]
public sealed class RunActionsTests(WebAppFixture fixture)
{
    static readonly LocatorAssertionsToHaveTextOptions RunTimeout = new() { Timeout = 180_000 };

    [Fact]
    public async Task The_dialog_names_the_configured_default_and_offers_the_configured_providers()
    {
        var page = await fixture.OpenAsync("/metrics/coherence");
        var dialog = await OpenStartDialogAsync(page);

        // The fixture configures no default, so the service's default is the built-in distiller; "offline" is configured.
        await Expect(dialog.GetByTestId("provider-default")).ToContainTextAsync("platform default, builtin");
        await Expect(dialog.GetByTestId("provider-choice")).ToHaveTextAsync(new[] { "builtin", WebAppFixture.OfflineProvider });
        await Expect(dialog.GetByTestId("provider-options").Locator("option")).ToHaveCountAsync(2);
        await Expect(dialog.GetByTestId("reflection-provider")).ToHaveAttributeAsync("placeholder", "builtin");

        await dialog.GetByTestId("reflection-provider").FillAsync(WebAppFixture.OfflineProvider);
        await dialog.GetByTestId("reflection-model").FocusAsync();
        await Expect(dialog.GetByTestId("reflection-model")).ToHaveAttributeAsync("placeholder", WebAppFixture.OfflineModel);

        await page.Keyboard.PressAsync("Escape");
        await Expect(page.GetByTestId("start-dialog")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_metric_without_an_eligible_evaluation_says_so_and_starts_nothing()
    {
        using var metrics = fixture.CreateClient("metrics", Roles.MetricEditor);
        var key = $"empty-{Guid.NewGuid():N}"[..16];
        var created = await metrics.PostAsJsonAsync("/api/metrics", new
        {
            key, name = "Nothing scored yet", description = "No evaluation has scored it.", type = "quantitative", scaleMin = 1, scaleMax = 5,
            scope = "turn", systemPrompt = "You grade.\nScore 1 to 5.", userPromptTemplate = "Input: {{input}}\nOutput: {{output}}", author = "editor",
        });
        created.EnsureSuccessStatusCode();

        var page = await fixture.OpenAsync($"/metrics/{key}");
        await page.GetByTestId("open-start-dialog").ClickAsync();
        var dialog = page.GetByTestId("start-dialog");

        await Expect(dialog.GetByTestId("no-eligible")).ToContainTextAsync("No evaluation has resolved annotations for this metric yet");
        await Expect(dialog.GetByTestId("eligible-evaluations")).ToHaveCountAsync(0);
        await dialog.GetByTestId("start-run").ClickAsync();
        await Expect(dialog.Locator("#evaluations-error")).ToContainTextAsync("There is no evaluation to learn from yet.");
        await page.Keyboard.PressAsync("Escape");
        await Expect(page.GetByTestId("no-runs")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Discarding_an_aligned_run_leaves_it_discarded_with_nothing_left_to_decide()
    {
        var page = await fixture.OpenAsync("/metrics/fluency");
        var run = await StartRunAsync(page, provider: null);
        await Expect(run.GetByTestId("run-status")).ToHaveTextAsync("Aligned", RunTimeout);

        await run.GetByTestId("run-discard").ClickAsync();
        var confirm = page.GetByTestId("confirm-dialog");
        await Expect(confirm).ToContainTextAsync("the metric does not change");
        await confirm.GetByTestId("confirm-action").ClickAsync();

        await Expect(run.GetByTestId("run-status")).ToHaveTextAsync("Discarded");
        await Expect(page.GetByTestId("confirm-dialog")).ToHaveCountAsync(0);
        await Expect(run.GetByTestId("run-accept")).ToHaveCountAsync(0);
        await Expect(run.GetByTestId("run-discard")).ToHaveCountAsync(0);
        await Expect(run.GetByTestId("outcome-link")).ToHaveCountAsync(0);

        // The discard is the service's state, not only the page's: a reload shows it too.
        await page.ReloadAsync();
        await WebAppFixture.WaitInteractiveAsync(page);
        await Expect(run.GetByTestId("run-status")).ToHaveTextAsync("Discarded");
    }

    [Fact]
    public async Task A_failed_run_shows_its_error_and_Retry_runs_it_again_as_a_new_attempt()
    {
        var page = await fixture.OpenAsync("/metrics/fluency");
        var run = await StartRunAsync(page, provider: WebAppFixture.OfflineProvider);
        await Expect(run.GetByTestId("run-status")).ToHaveTextAsync("Failed", RunTimeout);

        await run.GetByTestId("run-toggle").ClickAsync();
        var details = run.GetByTestId("run-details");
        await Expect(details.GetByTestId("run-error")).ToContainTextAsync("Failed while");
        await Expect(details.GetByTestId("run-error").Locator(".error-detail")).Not.ToBeEmptyAsync();
        await Expect(details).ToContainTextAsync("(attempt 1)");

        await run.GetByTestId("run-retry").ClickAsync();

        // The provider is still offline, so the second attempt fails too; what matters is that it ran again.
        await Expect(details).ToContainTextAsync("(attempt 2)", new() { Timeout = 60_000 });
        await Expect(run.GetByTestId("run-status")).ToHaveTextAsync("Failed", RunTimeout);
        await Expect(details.GetByTestId("run-error")).ToBeVisibleAsync();
        await Expect(run.GetByTestId("run-retry")).ToBeVisibleAsync();
    }

    /// <summary>Starts a run on every eligible evaluation from the dialog and returns its item, found by the run's id.</summary>
    static async Task<ILocator> StartRunAsync(IPage page, string? provider)
    {
        await Expect(page.GetByTestId("no-runs").Or(page.GetByTestId("runs"))).ToBeVisibleAsync();
        var earlier = await page.GetByTestId("run").CountAsync();
        var dialog = await OpenStartDialogAsync(page);
        await dialog.GetByRole(AriaRole.Checkbox).First.CheckAsync();
        if (provider is not null) await dialog.GetByTestId("reflection-provider").FillAsync(provider);
        await dialog.GetByTestId("start-run").ClickAsync();

        // Queuing waits for the saga's answer, which a machine busy building other projects can hold up for a while.
        try
        {
            await Expect(page.GetByTestId("start-dialog")).ToHaveCountAsync(0, new() { Timeout = 90_000 });
        }
        catch (PlaywrightException e)
        {
            throw new InvalidOperationException($"The dialog stayed open, saying: {await dialog.InnerTextAsync()}", e);
        }
        await Expect(page.GetByTestId("run")).ToHaveCountAsync(earlier + 1);
        var id = await page.GetByTestId("run").First.GetAttributeAsync("data-run-id");
        id.Should().MatchRegex("^[0-9a-f-]{36}$");
        return page.Locator($"[data-testid=run][data-run-id='{id}']");
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
