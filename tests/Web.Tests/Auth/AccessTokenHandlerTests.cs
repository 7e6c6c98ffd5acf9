using System.Net;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using MetricAlignment.Web.Auth;
using MetricAlignment.Web.Clients;
using Microsoft.AspNetCore.Http;

namespace MetricAlignment.Web.Tests.Auth;

/// <summary>The token on the calls to the APIs, and what the pages learn when an API refuses it.</summary>
public sealed class AccessTokenHandlerTests
{
    sealed class Service(HttpStatusCode status, string body) : HttpMessageHandler
    {
        public List<HttpRequestMessage> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(request);
            return Task.FromResult(new HttpResponseMessage(status)
            {
                Content = new StringContent(body, System.Text.Encoding.UTF8, "application/problem+json"),
            });
        }
    }

    static (MetricsClient Client, Service Service) ClientFor(SignedInUser? user, HttpStatusCode status = HttpStatusCode.OK, string body = "[]")
    {
        var service = new Service(status, body);
        // Outside a circuit (prerendering) the handler reads the session from the page's own request.
        var http = new HttpContextAccessor { HttpContext = new DefaultHttpContext() };
        if (user is not null) http.HttpContext.User = user.ToPrincipal();
        var handler = new AccessTokenHandler(new CircuitServicesAccessor(), http) { InnerHandler = service };
        return (new MetricsClient(new HttpClient(handler) { BaseAddress = new Uri("http://metrics") }), service);
    }

    static SignedInUser User(string role, DateTimeOffset expiresAt) =>
        new("alice", "alice", "default", [role], TestTokens.For(role, subject: "alice"), expiresAt);

    [Fact]
    public async Task A_call_carries_the_signed_in_persons_token()
    {
        var user = User(Roles.Viewer, DateTimeOffset.UtcNow.AddMinutes(30));
        var (client, service) = ClientFor(user);

        var result = await client.ListAsync();

        result.Succeeded.Should().BeTrue();
        service.Requests.Should().ContainSingle().Which.Headers.Authorization!.ToString().Should().Be($"Bearer {user.AccessToken}");
    }

    [Fact]
    public async Task With_an_expired_session_nothing_is_sent_and_the_page_is_told_to_sign_in_again()
    {
        var (client, service) = ClientFor(User(Roles.Admin, DateTimeOffset.UtcNow.AddSeconds(-1)));

        var result = await client.ListAsync();

        service.Requests.Should().BeEmpty();
        result.Problem!.NeedsSignIn.Should().BeTrue();
        result.Problem.Title.Should().Contain("sign-in has expired");
    }

    [Fact]
    public async Task Without_a_session_nothing_is_sent()
    {
        var (client, service) = ClientFor(null);

        var result = await client.ListAsync();

        service.Requests.Should().BeEmpty();
        result.Problem!.NeedsSignIn.Should().BeTrue();
    }

    [Fact]
    public async Task A_token_the_api_refuses_sends_the_person_to_sign_in()
    {
        var (client, _) = ClientFor(User(Roles.Viewer, DateTimeOffset.UtcNow.AddMinutes(30)), HttpStatusCode.Unauthorized, "");

        (await client.ListAsync()).Problem!.NeedsSignIn.Should().BeTrue();
    }

    [Fact]
    public async Task A_refusal_for_the_persons_role_says_so_and_keeps_the_services_detail()
    {
        var (client, _) = ClientFor(User(Roles.Viewer, DateTimeOffset.UtcNow.AddMinutes(30)), HttpStatusCode.Forbidden,
            """{"title":"Forbidden","status":403,"detail":"Creating metrics needs the metric-editor role."}""");

        var problem = (await client.ListAsync()).Problem!;

        problem.NeedsSignIn.Should().BeFalse();
        problem.Title.Should().Be("Your role does not allow this");
        problem.Detail.Should().Be("Creating metrics needs the metric-editor role.");
    }

    [Fact]
    public async Task A_bare_refusal_for_the_persons_role_names_the_service()
    {
        var (client, _) = ClientFor(User(Roles.Viewer, DateTimeOffset.UtcNow.AddMinutes(30)), HttpStatusCode.Forbidden, "");

        var problem = (await client.ListAsync()).Problem!;

        problem.Message.Should().Be("Your role does not allow this: The Metrics service refused it for your role.");
    }
}
