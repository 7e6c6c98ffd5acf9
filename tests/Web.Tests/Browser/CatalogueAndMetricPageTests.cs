using System.Net.Http.Headers;
using System.Net.Http.Json;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace MetricAlignment.Web.Tests.Browser;

[Collection(WebAppCollection.Name)]
public sealed class CatalogueAndMetricPageTests(WebAppFixture fixture)
{
    [Fact]
    public async Task The_catalogue_lists_the_built_in_metrics_and_opens_a_metric_page_with_its_current_prompt()
    {
        var page = await fixture.OpenAsync("/");

        var builtIn = page.GetByTestId("metrics-built-in");
        await Expect(builtIn.GetByRole(AriaRole.Link, new() { Name = "Relevance (summary)" })).ToBeVisibleAsync();
        await builtIn.GetByRole(AriaRole.Link, new() { Name = "Relevance (summary)" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/metrics/relevance$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Relevance (summary)");
        await Expect(page.GetByTestId("metric-kind")).ToHaveTextAsync("built-in");
        await Expect(page.GetByTestId("system-prompt")).Not.ToBeEmptyAsync();
        await Expect(page.GetByTestId("no-runs")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_custom_metric_with_two_versions_shows_who_made_each_and_a_line_diff_between_them()
    {
        using var metrics = fixture.CreateClient("metrics", Roles.MetricEditor);
        var key = $"tone-{Guid.NewGuid():N}"[..16];
        // Each version is made by its own person, whether the service records the body's author or the token's subject.
        metrics.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.For(Roles.MetricEditor, subject: "alice"));
        var created = await metrics.PostAsJsonAsync("/api/metrics", new
        {
            key, name = "Tone check", description = "Is the tone right?", type = "quantitative", scaleMin = 1, scaleMax = 5, scope = "turn",
            systemPrompt = "You grade tone.\nScore 1 to 5.", userPromptTemplate = "Input: {{input}}\nOutput: {{output}}", author = "alice",
        });
        created.EnsureSuccessStatusCode();
        metrics.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.For(Roles.MetricEditor, subject: "bob"));
        var published = await metrics.PostAsJsonAsync($"/api/metrics/{key}/versions", new
        {
            systemPrompt = "You grade tone.\nPenalise sarcasm.\nScore 1 to 5.", userPromptTemplate = "Input: {{input}}\nOutput: {{output}}",
            author = "bob", changeNote = "Sarcasm rule.", expectedCurrentVersion = 1,
        });
        published.EnsureSuccessStatusCode();

        var page = await fixture.OpenAsync($"/metrics/{key}");

        await Expect(page.GetByTestId("metric-kind")).ToHaveTextAsync("custom");
        var versions = page.GetByTestId("versions");
        await Expect(versions.Locator("tbody tr")).ToHaveCountAsync(2);
        await Expect(versions.Locator("tbody tr").Nth(0)).ToContainTextAsync("bob");
        await Expect(versions.Locator("tbody tr").Nth(1)).ToContainTextAsync("alice");
        await Expect(page.GetByTestId("diff-summary")).ToHaveTextAsync("1 line(s) added, 0 removed");
        await Expect(page.Locator(".diff-line.added")).ToContainTextAsync("Penalise sarcasm.");

        // Comparing a version with itself shows no change.
        await page.GetByTestId("diff-from").SelectOptionAsync("2");
        await Expect(page.GetByTestId("diff-summary")).ToHaveTextAsync("No changes");
    }

    [Fact]
    public async Task An_unknown_metric_shows_the_services_readable_message()
    {
        var page = await fixture.OpenAsync("/metrics/no-such-metric");

        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Metric not found");
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("no-such-metric");
    }
}
