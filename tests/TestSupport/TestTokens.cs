using System.Net.Http.Headers;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.TestSupport;

/// <summary>
/// Access tokens signed with the development key that the services' appsettings.Development.json trust, and that the
/// tests hand to the AppHost (Auth:SigningKey) so that its services and development issuer trust it too.
/// </summary>
public static class TestTokens
{
    public const string Issuer = "metric-alignment-dev";
    public const string SigningKey = "iVQJsk77uztb6H/4SCa56SE/i2fk2hPx+s6gk7dSdpg=";
    public const string Workspace = "default";
    public const string OtherWorkspace = "globex";

    /// <summary>AppHost arguments that make the distributed app trust these tokens.</summary>
    public static string[] AppHostArguments => [$"--Auth:Issuer={Issuer}", $"--Auth:SigningKey={SigningKey}"];

    public static string For(string role, string workspace = Workspace, string? subject = null, TimeSpan? lifetime = null) =>
        For([role], workspace, subject, lifetime);

    public static string For(IEnumerable<string> roles, string? workspace, string? subject = null, TimeSpan? lifetime = null, DateTime? now = null) =>
        AccessTokens.Create(SigningKey, Issuer, AccessTokens.DefaultAudience, subject ?? $"test-{string.Join('+', roles)}",
            roles, workspace, lifetime ?? TimeSpan.FromHours(2), now);

    /// <summary>Every request of this client carries a token for the role in the workspace (an admin by default).</summary>
    public static HttpClient As(this HttpClient client, string role = Roles.Admin, string workspace = Workspace)
    {
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", For(role, workspace));
        return client;
    }

    /// <summary>A platform service's token acting for a workspace.</summary>
    public static HttpClient AsService(this HttpClient client, string workspace = Workspace)
    {
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", For([Roles.Service], null, "service:test"));
        client.DefaultRequestHeaders.Remove(Caller.WorkspaceHeader);
        client.DefaultRequestHeaders.Add(Caller.WorkspaceHeader, workspace);
        return client;
    }
}
