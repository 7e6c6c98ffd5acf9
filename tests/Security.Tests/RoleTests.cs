using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Xunit.Abstractions;

namespace MetricAlignment.Security.Tests;

/// <summary>
/// Role escalation: a role below an endpoint's policy gets 403 whatever it sends, and the roles the policy names get past
/// authorization. The ids name nothing, so that a write that wrongly passes changes nothing either.
/// </summary>
[Collection(SecuredServicesCollection.Name)]
public sealed class RoleTests(SecuredServices services, ITestOutputHelper output)
{
    public static TheoryData<string> Services => Sweep.Services;

    HttpClient Caller(ServiceUnderTest service, Tally tally, string role) =>
        role == Roles.Service ? services.AsService(service, tally, TestTokens.Workspace) : services.As(service, tally, role);

    [Theory]
    [MemberData(nameof(Services))]
    public void Every_write_endpoint_has_a_rule_in_this_suite(string name)
    {
        var writes = ApiEndpoints.SecuredOf(services[name]).Where(e => e.IsWrite).Select(e => e.Key).ToList();

        output.WriteLine($"{name} writes: {string.Join("; ", writes)}");
        writes.Where(key => !EndpointPolicies.Writes.ContainsKey(key)).Should().BeEmpty("every write endpoint needs a rule saying who may call it");
        EndpointPolicies.Writes.Keys.Where(key => key.StartsWith(name + " ", StringComparison.Ordinal)).Except(writes)
            .Should().BeEmpty("a rule of this suite names an endpoint the service no longer has");
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Roles_below_a_write_endpoints_policy_get_a_403_problem_detail(string name)
    {
        var service = services[name];
        var tally = new Tally();
        var failures = new List<string>();

        foreach (var endpoint in ApiEndpoints.SecuredOf(service).Where(e => e.IsWrite && EndpointPolicies.Writes.ContainsKey(e.Key)))
        {
            var rule = EndpointPolicies.Writes[endpoint.Key];
            foreach (var role in rule.Refused)
            {
                using var client = Caller(service, tally, role);
                var answer = await Answer.SendAsync(client, Sweep.To(endpoint, endpoint.UrlOfNothing()));
                if (answer.Unless(403) is { } failure) failures.Add($"{role} (needs {rule.Policy}): {failure}");
            }
        }

        Sweep.Conclude(output, services, tally, $"{name}, roles below the policy", failures);
        tally.Count(403).Should().Be(tally.Sent);
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task The_roles_a_policy_names_get_past_authorization_and_every_role_reads(string name)
    {
        var service = services[name];
        var tally = new Tally();
        var failures = new List<string>();

        foreach (var endpoint in ApiEndpoints.SecuredOf(service))
        {
            var roles = endpoint.IsWrite
                ? EndpointPolicies.Writes.TryGetValue(endpoint.Key, out var rule) ? rule.Allowed : []
                : EndpointPolicies.Readers;
            foreach (var role in roles)
            {
                using var client = Caller(service, tally, role);
                // Garbage or unknown ids: whatever the endpoint answers, it must not be an authorization failure or a crash.
                var answer = await Answer.SendAsync(client, Sweep.To(endpoint, endpoint.UrlOfNothing()));
                if (answer.Status is 401 or 403 or >= 500) failures.Add($"{role}: {answer.Request} answered {answer.Status}: {answer.Body[..Math.Min(300, answer.Body.Length)]}");
            }
        }

        Sweep.Conclude(output, services, tally, $"{name}, roles the policy allows", failures);
    }
}
