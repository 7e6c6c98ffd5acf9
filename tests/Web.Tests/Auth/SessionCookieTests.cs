extern alias webapp;

using System.Net;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using MetricAlignment.Web.Auth;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MetricAlignment.Web.Tests.Auth;

/// <summary>
/// The session cookie against the front end alone, in this process: the services are not running (their address refuses
/// connections), which is enough to see who the pages let in.
/// </summary>
public sealed class SessionCookieTests : IClassFixture<SessionCookieTests.Front>, IDisposable
{
    public sealed class Front : WebApplicationFactory<webapp::Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var service in new[] { "metrics", "annotations", "alignment" })
                builder.UseSetting($"services:{service}:http:0", "http://127.0.0.1:9");
            builder.UseEnvironment("Development");
            builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        }
    }

    readonly Front _front;
    readonly HttpClient _browser;

    public SessionCookieTests(Front front)
    {
        _front = front;
        _browser = front.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
    }

    string CookieFor(SignedInUser user, DateTimeOffset cookieExpiresAt)
    {
        var options = _front.Services.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>()
            .Get(CookieAuthenticationDefaults.AuthenticationScheme);
        var ticket = new AuthenticationTicket(user.ToPrincipal(), new AuthenticationProperties
        {
            IssuedUtc = DateTimeOffset.UtcNow.AddHours(-1),
            ExpiresUtc = cookieExpiresAt,
            AllowRefresh = false,
        }, CookieAuthenticationDefaults.AuthenticationScheme);
        return $"{WebAuthExtensions.CookieName}={options.TicketDataFormat.Protect(ticket)}";
    }

    static SignedInUser Viewer(DateTimeOffset tokenExpiresAt) =>
        new("viewer", "viewer", TestTokens.Workspace, [Roles.Viewer], TestTokens.For(Roles.Viewer, subject: "viewer"), tokenExpiresAt);

    async Task<HttpResponseMessage> GetAsync(string path, string? cookie = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (cookie is not null) request.Headers.Add("Cookie", cookie);
        return await _browser.SendAsync(request);
    }

    [Fact]
    public async Task A_live_session_opens_the_pages_and_names_the_person()
    {
        var inFuture = DateTimeOffset.UtcNow.AddMinutes(30);

        using var response = await GetAsync("/evaluations", CookieFor(Viewer(inFuture), inFuture));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var html = await response.Content.ReadAsStringAsync();
        html.Should().Contain("data-testid=\"session-user\">viewer<");
        html.Should().Contain("could not be reached");
    }

    [Fact]
    public async Task A_session_whose_token_has_expired_is_sent_back_to_sign_in()
    {
        // Even a cookie that claims to live longer ends with the token it carries.
        using var response = await GetAsync("/evaluations", CookieFor(Viewer(DateTimeOffset.UtcNow.AddSeconds(-5)), DateTimeOffset.UtcNow.AddHours(1)));

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        response.Headers.Location!.PathAndQuery.Should().Be("/signin?returnUrl=%2Fevaluations");
    }

    [Fact]
    public async Task An_expired_session_cookie_is_sent_back_to_sign_in()
    {
        using var response = await GetAsync("/", CookieFor(Viewer(DateTimeOffset.UtcNow.AddMinutes(30)), DateTimeOffset.UtcNow.AddSeconds(-5)));

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        response.Headers.Location!.AbsolutePath.Should().Be("/signin");
    }

    [Fact]
    public async Task The_sign_in_page_and_its_stylesheet_open_without_a_session()
    {
        using var page = await GetAsync("/signin");

        page.StatusCode.Should().Be(HttpStatusCode.OK);
        var html = await page.Content.ReadAsStringAsync();
        html.Should().Contain("name=\"Input.Password\"");
        var stylesheet = System.Text.RegularExpressions.Regex.Match(html, "href=\"(app\\.[^\"]*css)\"").Groups[1].Value;
        using var css = await GetAsync("/" + stylesheet);
        css.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Signing_out_without_the_forms_antiforgery_token_is_refused()
    {
        var inFuture = DateTimeOffset.UtcNow.AddMinutes(30);
        var request = new HttpRequestMessage(HttpMethod.Post, WebAuthExtensions.SignOutPath) { Content = new FormUrlEncodedContent([]) };
        request.Headers.Add("Cookie", CookieFor(Viewer(inFuture), inFuture));

        using var response = await _browser.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Headers.Contains("Set-Cookie").Should().BeFalse();
    }

    public void Dispose() => _browser.Dispose();
}
