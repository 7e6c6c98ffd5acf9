extern alias webapp;

using System.Net.Http.Json;
using System.Text.RegularExpressions;
using MetricAlignment.ServiceDefaults;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;
using WebAuth = webapp::MetricAlignment.Web.Auth.WebAuthExtensions;

namespace MetricAlignment.Web.Tests.Browser;

/// <summary>Signing in at the development issuer through the sign-in page, the session it makes, and what each role is offered.</summary>
[Collection(WebAppCollection.Name)]
public sealed class SignInTests(WebAppFixture fixture)
{
    static readonly LocatorAssertionsToHaveTextOptions RunTimeout = new() { Timeout = 180_000 };

    [Fact]
    public async Task An_anonymous_visit_is_sent_to_sign_in_and_returns_to_the_page_once_signed_in()
    {
        var page = await fixture.OpenSignedOutAsync();
        await page.GotoAsync(fixture.Url("/evaluations"));

        await Expect(page).ToHaveURLAsync(new Regex(@"/signin\?returnUrl=%2Fevaluations$"));
        await Expect(page.GetByTestId("session")).ToHaveCountAsync(0);
        // In Development the page lists who can sign in.
        await Expect(page.GetByTestId("dev-users")).ToContainTextAsync("annotator");
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "sign-in-page.png") });

        await WebAppFixture.SubmitSignInAsync(page, WebAppFixture.Viewer);

        await Expect(page).ToHaveURLAsync(new Regex("/evaluations$"));
        await Expect(page.GetByTestId("session-user")).ToHaveTextAsync(WebAppFixture.Viewer);
        await Expect(page.GetByTestId("session-workspace")).ToHaveTextAsync("default");
        await Expect(page.GetByTestId("session-roles")).ToHaveTextAsync(Roles.Viewer);
        await Expect(page.GetByTestId("evaluations")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "signed-in-header.png") });
    }

    [Fact]
    public async Task A_wrong_password_is_refused_readably_and_starts_no_session()
    {
        var page = await fixture.OpenSignedOutAsync();
        await page.GotoAsync(fixture.Url("/signin"));

        await WebAppFixture.SubmitSignInAsync(page, WebAppFixture.Admin, "not-the-password");

        await Expect(page.GetByTestId("signin-error")).ToContainTextAsync("user name or password is wrong");
        await Expect(page.GetByLabel("User name")).ToHaveValueAsync(WebAppFixture.Admin);
        (await page.Context.CookiesAsync()).Select(c => c.Name).Should().NotContain(WebAuth.CookieName);
        await page.GotoAsync(fixture.Url("/"));
        await Expect(page).ToHaveURLAsync(new Regex("/signin"));
    }

    [Fact]
    public async Task A_return_address_on_another_site_is_not_followed_after_signing_in()
    {
        var page = await fixture.OpenSignedOutAsync();
        await page.GotoAsync(fixture.Url("/signin?returnUrl=" + Uri.EscapeDataString("//example.com/phish")));

        await WebAppFixture.SubmitSignInAsync(page, WebAppFixture.Viewer);

        await Expect(page.GetByTestId("session-user")).ToHaveTextAsync(WebAppFixture.Viewer);
        new Uri(page.Url).Authority.Should().Be(fixture.WebAddress.Authority);
        new Uri(page.Url).AbsolutePath.Should().Be("/");
    }

    [Fact]
    public async Task Signing_out_ends_the_session()
    {
        var page = await fixture.SignInAsync(WebAppFixture.Editor);
        await WebAppFixture.WaitInteractiveAsync(page);

        await page.GetByTestId("sign-out").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/signin$"));
        (await page.Context.CookiesAsync()).Select(c => c.Name).Should().NotContain(WebAuth.CookieName);
        await page.GotoAsync(fixture.Url("/metrics/relevance"));
        await Expect(page).ToHaveURLAsync(new Regex(@"/signin\?returnUrl=%2Fmetrics%2Frelevance$"));
    }

    [Fact]
    public async Task A_viewer_sees_runs_but_is_offered_no_start_or_decision()
    {
        // A run someone else started, so that the viewer has a run to look at (on fluency, whose tests allow other runs).
        using var metrics = fixture.CreateClient("metrics", Roles.MetricEditor);
        using var alignment = fixture.CreateClient("alignment", Roles.MetricEditor);
        var metric = await metrics.GetFromJsonAsync<IdOnly>("/api/metrics/fluency");
        var started = await alignment.PostAsJsonAsync("/api/alignment-runs", new
        {
            metricId = metric!.Id,
            evaluationIds = new[] { fixture.Imported[0].EvaluationId!.Value },
        });
        started.EnsureSuccessStatusCode();
        var run = await started.Content.ReadFromJsonAsync<IdOnly>();

        var page = await fixture.OpenAsync("/metrics/fluency", WebAppFixture.Viewer);

        var item = page.Locator($"[data-run-id='{run!.Id}']");
        await Expect(item.GetByTestId("run-status")).ToHaveTextAsync("Aligned", RunTimeout);
        await Expect(page.GetByTestId("open-start-dialog")).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("read-only-runs")).ToBeVisibleAsync();
        await Expect(item.GetByTestId("run-accept")).ToHaveCountAsync(0);
        await Expect(item.GetByTestId("run-discard")).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("session-roles")).ToHaveTextAsync(Roles.Viewer);
    }

    [Fact]
    public async Task A_metric_editor_is_offered_to_start_a_run_but_not_to_annotate()
    {
        var page = await fixture.OpenAsync("/metrics/coherence", WebAppFixture.Editor);

        await Expect(page.GetByTestId("open-start-dialog")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("read-only-runs")).ToHaveCountAsync(0);
        await page.GotoAsync(fixture.Url($"/evaluations/{fixture.Imported[0].EvaluationId}"));
        await Expect(page.GetByTestId("annotation-role")).ToContainTextAsync("You can read this evaluation");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Add annotation" })).ToHaveCountAsync(0);
    }

    sealed record IdOnly(Guid Id);
}
