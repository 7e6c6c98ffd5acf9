using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Xunit.Abstractions;

namespace MetricAlignment.Security.Tests;

/// <summary>
/// Every API endpoint of the three services, read from their routing so that a new one cannot be forgotten, refuses a
/// caller it cannot authenticate (401) and one that acts in no workspace (403: the token is genuine, so the caller is
/// authenticated, but the workspace requirement of every policy fails).
/// </summary>
[Collection(SecuredServicesCollection.Name)]
public sealed class AuthenticationTests(SecuredServices services, ITestOutputHelper output)
{
    public static TheoryData<string> Services => Sweep.Services;

    public static TheoryData<string, string> ServicesAndForgeries()
    {
        var data = new TheoryData<string, string>();
        foreach (var service in Sweep.ServiceNames)
            foreach (var forgery in ForgedTokens.Names) data.Add(service, forgery);
        return data;
    }

    /// <summary>Genuine tokens that name no usable workspace.</summary>
    static readonly Dictionary<string, (string Bearer, string? WorkspaceHeader)> WithoutWorkspace = new()
    {
        ["person's token without a workspace claim"] = (TestTokens.For([Roles.Admin], null, "no-workspace"), null),
        ["person's token with a malformed workspace"] = (TestTokens.For([Roles.Admin], "Default Workspace!", "bad-workspace"), null),
        ["service token without X-Workspace"] = (TestTokens.For([Roles.Service], null, "service:security-tests"), null),
        ["service token with a malformed X-Workspace"] = (TestTokens.For([Roles.Service], null, "service:security-tests"), "../globex"),
    };

    public static TheoryData<string, string> ServicesAndCallersWithoutWorkspace()
    {
        var data = new TheoryData<string, string>();
        foreach (var service in Sweep.ServiceNames)
            foreach (var caller in WithoutWorkspace.Keys) data.Add(service, caller);
        return data;
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Only_the_health_probes_and_the_api_documentation_allow_anonymous_callers(string name)
    {
        var service = services[name];
        var endpoints = ApiEndpoints.AllOf(service);
        var tally = new Tally();
        using var anonymous = services.Client(service, tally);

        var health = await Answer.SendAsync(anonymous, ApiRequest.Get(name, "/health"));
        var document = await Answer.SendAsync(anonymous, ApiRequest.Get(name, "/openapi/v1.json"));

        output.WriteLine($"{name}: {endpoints.Count} endpoints, {ApiEndpoints.SecuredOf(service).Count} of the API: "
            + string.Join("; ", endpoints.Select(e => $"{e.Key}{(e.AllowsAnonymous ? " (anonymous)" : "")}")));
        endpoints.Where(e => e.AllowsAnonymous && !ApiEndpoints.IsAnonymousOnPurpose(e)).Select(e => e.Key)
            .Should().BeEmpty("only health probes and documentation are open to anyone");
        endpoints.Where(e => ApiEndpoints.IsAnonymousOnPurpose(e) && e.AllowsAnonymous).Should().NotBeEmpty();
        health.Status.Should().Be(200, "the orchestrator probes health without a token");
        document.Status.Should().Be(200, "the API documentation is public");
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Every_endpoint_answers_a_request_without_a_token_with_a_401_problem_detail_and_a_bearer_challenge(string name)
    {
        var service = services[name];
        var tally = new Tally();
        using var client = services.Client(service, tally);
        var failures = new List<string>();

        foreach (var endpoint in ApiEndpoints.SecuredOf(service))
        {
            var answer = await Answer.SendAsync(client, Sweep.To(endpoint, endpoint.UrlOfNothing()));
            if (answer.Unless(401) is { } failure) failures.Add(failure);
            else if (answer.Challenge != "Bearer") failures.Add($"{answer.Request} answered 401 without a 'WWW-Authenticate: Bearer' challenge");
        }

        Sweep.Conclude(output, services, tally, $"{name}, no token", failures);
        tally.Count(401).Should().Be(tally.Sent);
    }

    [Theory]
    [MemberData(nameof(ServicesAndForgeries))]
    public async Task Every_endpoint_answers_a_forged_or_stale_token_with_401(string name, string forgery)
    {
        var service = services[name];
        var tally = new Tally();
        using var client = services.Client(service, tally);
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", ForgedTokens.Headers[forgery]());

        var failures = await Sweep.ExpectAsync(client, ApiEndpoints.SecuredOf(service).Select(e => Sweep.To(e, e.UrlOfNothing())), 401);

        Sweep.Conclude(output, services, tally, $"{name}, {forgery}", failures);
    }

    [Theory]
    [MemberData(nameof(ServicesAndCallersWithoutWorkspace))]
    public async Task Every_endpoint_forbids_a_genuine_token_that_names_no_workspace_with_403(string name, string caller)
    {
        var service = services[name];
        var (bearer, workspaceHeader) = WithoutWorkspace[caller];
        var tally = new Tally();
        using var client = services.Client(service, tally, bearer, workspaceHeader);

        var failures = await Sweep.ExpectAsync(client, ApiEndpoints.SecuredOf(service).Select(e => Sweep.To(e, e.UrlOfNothing())), 403);

        Sweep.Conclude(output, services, tally, $"{name}, {caller}", failures);
    }
}
